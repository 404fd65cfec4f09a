-- 015_user_disabled: an administrator can disable a user (who then cannot
-- sign in, and whose tokens stop working) without deleting it, so its name
-- and audit trail stay and it can be enabled again.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
