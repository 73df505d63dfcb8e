-- What the shop tells its bot besides the catalogue: the questions customers ask with the shop's own answers
-- (delivery, payment, address, returns…) and the zones it delivers to with their fee. Both engines answer
-- such questions from these (and the free instructions) only; a list is replaced as a whole, in order.
create table bot_faq (
  tenant_id uuid not null references tenant on delete cascade,
  position integer not null check (position between 0 and 99),
  question text not null check (length(question) between 1 and 300),
  answer text not null check (length(answer) between 1 and 1000),
  primary key (tenant_id, position)
);
select tdj_isolate_tenant_table('bot_faq');

create table delivery_zone (
  tenant_id uuid not null references tenant on delete cascade,
  position integer not null check (position between 0 and 99),
  name text not null check (length(name) between 1 and 80),
  fee_xof bigint not null check (fee_xof between 0 and 1000000),
  primary key (tenant_id, position)
);
create unique index delivery_zone_name on delivery_zone (tenant_id, lower(name));
select tdj_isolate_tenant_table('delivery_zone');
