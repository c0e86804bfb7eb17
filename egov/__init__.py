"""Cross-cutting foundation: settings, database, audit trail."""
