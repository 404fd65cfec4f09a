-- 016_named_tokens: API tokens a user makes for scripts (POST /auth/tokens)
-- carry a name, so they can be listed and revoked one by one; every token
-- keeps when it was last used (to the minute: refreshed when a daemon's
-- token cache reads it again), so an unused one can be found and revoked.
ALTER TABLE tokens ADD COLUMN name TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
CREATE INDEX tokens_by_user ON tokens(user_id);
