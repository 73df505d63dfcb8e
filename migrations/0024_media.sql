-- Voice notes, photos and the product photos the bot sends. The bytes live here, outside JetStream (a message
-- carries a reference), sealed with the shop's data key (AES-256-GCM, bound to the shop and the media id), so
-- one shop's media cannot be opened with another's key even by a query that forgot its scope; row-level
-- security keeps the rows apart too. Customer media expire after the retention period: the sweeper drops the
-- bytes and keeps the row, so the transcript can say what was there.
create table media (
  tenant_id uuid not null references tenant on delete cascade,
  media_id uuid not null,
  kind text not null check (kind in ('audio', 'image')),
  mime text not null check (mime ~ '^[a-z]+/[a-z0-9.+-]+$' and length(mime) <= 100),
  size_bytes integer not null check (size_bytes >= 0),
  sha256 bytea not null check (length(sha256) = 32),
  -- Null once expired.
  sealed bytea,
  -- A product photo fetched from the product's image_url, cached for every later send.
  product_id uuid,
  source_url text check (length(source_url) <= 2048),
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  primary key (tenant_id, media_id)
);
create index media_month on media (tenant_id, created_at) where product_id is null;
create index media_expiry on media (expires_at) where sealed is not null and expires_at is not null;
create unique index media_product_photo on media (tenant_id, product_id, source_url) where product_id is not null;
select tdj_isolate_tenant_table('media');

-- What a customer message carried besides text (schemas::Attachment, schemas::Location), and the model's
-- transcript of a voice note, shown to the shop.
alter table message
  add column attachment jsonb,
  add column location jsonb,
  add column transcript text check (length(transcript) <= 8000);

-- Customer media (voice notes, photos) a shop may receive per month; null means unlimited.
alter table plan add column max_media_per_month integer check (max_media_per_month >= 0);
update plan set max_media_per_month = case plan_code when 'starter' then 300 when 'pro' then 2000 else null end;

-- The model's tokens for customers' voice notes and photos (a part of llm_prompt_tokens), per shop and month.
alter table usage_delta add column llm_media_tokens bigint not null default 0;
alter table tenant_usage add column llm_media_tokens bigint not null default 0;
create or replace view tenant_usage_now with (security_invoker = true) as
select tenant_id, month,
       sum(bot_replies)::integer as bot_replies,
       sum(inbound_messages)::integer as inbound_messages,
       sum(test_model_turns)::integer as test_model_turns,
       sum(llm_prompt_tokens)::bigint as llm_prompt_tokens,
       sum(llm_output_tokens)::bigint as llm_output_tokens,
       sum(llm_media_tokens)::bigint as llm_media_tokens
from (
  select tenant_id, month, bot_replies, inbound_messages, test_model_turns, llm_prompt_tokens, llm_output_tokens,
         llm_media_tokens
  from tenant_usage
  union all
  select tenant_id, month, bot_replies, inbound_messages, test_model_turns, llm_prompt_tokens, llm_output_tokens,
         llm_media_tokens
  from usage_delta
) counts
group by tenant_id, month;
