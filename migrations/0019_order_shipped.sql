-- An order handed to the delivery: new → confirmed → shipped → delivered (shipping may be skipped).
alter table customer_order drop constraint customer_order_status_check;
alter table customer_order add constraint customer_order_status_check
  check (status in ('new', 'confirmed', 'shipped', 'delivered', 'cancelled'));
