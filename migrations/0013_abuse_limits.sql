-- Limits against abuse: the trial, the test chat's model allowance, per-customer reply limits, the expiry
-- of orders nobody confirms.

-- A new shop's bot answers its WhatsApp customers until the trial ends, then only once the shop has paid.
alter table subscription add column trial_ends_at timestamptz;

-- Test-chat turns answered by the language model, per plan and month; beyond, the offline assistant answers.
alter table plan add column max_test_turns_per_month integer check (max_test_turns_per_month >= 0);
update plan set max_test_turns_per_month = case plan_code
  when 'starter' then 100 when 'pro' then 300 else 1000 end;
alter table tenant_usage add column test_model_turns integer not null default 0;

-- One customer's replies: a token bucket (`reply_credit` as of `credit_at`) against bursts, and a daily cap
-- against one number using up the shop's month.
alter table chat
  add column reply_credit real,
  add column credit_at timestamptz,
  add column replies_day date,
  add column replies_on_day integer not null default 0;

-- A bot order the shop does not confirm in time is cancelled and its stock put back.
alter table customer_order add column hold_until timestamptz;
create index customer_order_hold on customer_order (hold_until) where status = 'new' and hold_until is not null;

-- Domain events carry message texts only for shops that opt in (integrators reading the stream).
alter table bot_setting add column events_include_text boolean not null default false;
