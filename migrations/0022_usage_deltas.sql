-- Usage counters without a hot row. The pipeline used to add to the shop's tenant_usage row twice per message,
-- so every chat of a shop queued on that row's lock until each turn committed. Now each transaction that
-- stores a message or a reply appends a delta (inserts never wait on each other) and the workers' sweeper folds
-- a shop's deltas into its tenant_usage row every few seconds, in one statement. Readers use tenant_usage_now,
-- which adds the deltas not folded yet: limits are checked against every committed count, folded or not, and
-- nothing is lost to a crash (a delta is a committed row until the statement that folds it commits).
create table usage_delta (
  tenant_id uuid not null references tenant on delete cascade,
  delta_id bigint generated always as identity,
  month date not null check (extract(day from month) = 1),
  bot_replies integer not null default 0,
  inbound_messages integer not null default 0,
  test_model_turns integer not null default 0,
  llm_prompt_tokens bigint not null default 0,
  llm_output_tokens bigint not null default 0,
  primary key (tenant_id, delta_id)
);
select tdj_isolate_tenant_table('usage_delta');

-- security_invoker: the caller's row-level security applies to both tables underneath.
create view tenant_usage_now with (security_invoker = true) as
select tenant_id, month,
       sum(bot_replies)::integer as bot_replies,
       sum(inbound_messages)::integer as inbound_messages,
       sum(test_model_turns)::integer as test_model_turns,
       sum(llm_prompt_tokens)::bigint as llm_prompt_tokens,
       sum(llm_output_tokens)::bigint as llm_output_tokens
from (
  select tenant_id, month, bot_replies, inbound_messages, test_model_turns, llm_prompt_tokens, llm_output_tokens
  from tenant_usage
  union all
  select tenant_id, month, bot_replies, inbound_messages, test_model_turns, llm_prompt_tokens, llm_output_tokens
  from usage_delta
) counts
group by tenant_id, month;
