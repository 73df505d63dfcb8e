-- The platform operator's console: an operator suspension as a state of the shop (its reason is shown to the
-- shop), what became of each dead letter (replayed or discarded, by whom, why), flagged payments reviewed, and
-- the indexes of the cross-shop views.

-- Set together with status = 'suspended' and cleared on reactivation (store::admin::set_status), so the shop's
-- pages and the bot's "not answered" notes can say why without reading the audit log (which keeps the history).
-- Not a check constraint: a row suspended by other means still reads as suspended, "reason not given".
alter table tenant
  add column suspended_reason text check (length(suspended_reason) between 3 and 500),
  add column suspended_at timestamptz,
  add column suspended_by uuid references app_user (user_id) on delete set null;
-- Shops suspended before this migration keep the reason the operator gave then.
update tenant t set
  suspended_at = now(),
  suspended_reason = coalesce(
    (select left(a.detail->>'reason', 500) from audit_log a
     where a.tenant_id = t.tenant_id and a.action = 'tenant.status_changed'
       and length(a.detail->>'reason') >= 3
     order by a.audit_id desc limit 1),
    'Suspendue par l''équipe Tdjaasa')
where t.status = 'suspended';

-- A dead letter is open until someone replays it (the message goes back into the pipeline) or discards it.
alter table dead_letter
  add column status text not null default 'open' check (status in ('open', 'replayed', 'discarded')),
  add column resolved_at timestamptz,
  add column resolved_by uuid,
  add column resolution_note text not null default '' check (length(resolution_note) <= 500),
  add constraint dead_letter_resolved check ((status = 'open') = (resolved_at is null));
-- The operator acts on a dead letter by id before its shop is known, and lists the open ones across shops.
create index dead_letter_id on dead_letter (dead_letter_id);
create index dead_letter_open_created on dead_letter (created_at desc) where status = 'open';

-- A flagged payment (amount or currency mismatch) stays flagged; the operator marks it reviewed with a note.
alter table payment
  add column reviewed_at timestamptz,
  add column reviewed_by uuid,
  add column review_note text check (length(review_note) between 3 and 500),
  add constraint payment_review_complete check ((reviewed_at is null) = (review_note is null));
-- Payments across shops, newest first.
create index payment_created on payment (created_at desc);

-- The operator's charts scan by date across shops: customer messages and orders per day, churn per month.
create index message_inbound_created on message (created_at) where direction = 'inbound';
create index customer_order_created on customer_order (created_at);
create index audit_log_subscription_suspended on audit_log (created_at) where action = 'subscription.suspended';
-- Each shop's last activity in the operator's list.
create index chat_tenant_last_message on chat (tenant_id, last_message_at);
