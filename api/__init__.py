"""HTTP API, web pages and the egov command line: thin wiring over ca, idp and signing."""
