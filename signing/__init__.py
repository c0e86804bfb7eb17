"""PAdES signing and validation, Decree 30 appearances, remote signing (CSC API)."""
