-- What the bot did to write a reply, for the shop's dashboard: the engine that answered, the tools it used, the
-- orders it placed or cancelled, a hand-over and the tokens (null for messages the bot did not write).
alter table message add column turn jsonb check (turn is null or jsonb_typeof(turn) = 'object');
