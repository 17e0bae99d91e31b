"""API users: hashed tokens, login, and per-channel access grants."""
