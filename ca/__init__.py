"""Internal certification authority: keys, hierarchy, issuance, status, CRL, OCSP and time-stamping."""
