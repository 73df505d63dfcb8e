-- Revoking access: every access token carries its user's token_version; bumping it (password changed or reset,
-- member removed, shop suspended) makes every outstanding token of that user stop working.
alter table app_user add column token_version integer not null default 0 check (token_version >= 0);
