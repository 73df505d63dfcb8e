-- Refunds of cancelled orders the customer had paid in the chat. Wave refunds a completed checkout session
-- through its API (idempotent: asking twice refunds once), so the platform makes those refunds itself, with the
-- shop's own key, retrying while Wave is unreachable; a refund Wave refuses, and any Orange Money or sandbox
-- payment (no refund API), stays for the shop to make and mark done.
alter table customer_order
  -- Who made a done refund: the provider, on our request, or the shop by hand.
  add column refunded_by text check (refunded_by in ('provider', 'shop')),
  add column refund_attempts integer not null default 0 check (refund_attempts >= 0),
  -- The next automatic attempt, after a provider that could not be reached.
  add column refund_retry_at timestamptz,
  -- Why the provider refused the refund (its error code, or that it kept failing): the shop refunds by hand.
  add column refund_error text check (length(refund_error) <= 200);

-- The sweep's queue: refunds Wave can still make.
create index customer_order_refund_due on customer_order (refund_retry_at)
  where refund_status = 'to_do' and paid_with = 'wave' and refund_error is null;
