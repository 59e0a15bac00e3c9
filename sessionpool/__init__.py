"""The local session pool: the dynamic-sessions API over sandboxed, stateful Python."""
