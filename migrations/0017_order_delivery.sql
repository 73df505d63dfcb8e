-- An order's delivery zone (one of the shop's delivery zones, as named then) and its fee, part of the total.
alter table customer_order
  add column delivery_zone text not null default '' check (length(delivery_zone) <= 80),
  add column delivery_fee_xof bigint not null default 0 check (delivery_fee_xof >= 0);
