"""Durable state: users, grants, channel states, bans, audit log (SQLite under --data)."""
