-- The shop's time zone (IANA name), in which its opening hours are read; Côte d'Ivoire's by default.
alter table bot_setting
  add column time_zone text not null default 'Africa/Abidjan' check (length(time_zone) between 1 and 64);
