-- Catalogue search that ignores accents and case ("dorees", "DOREES" and "dorées" all find "Sandales
-- dorées"), and detection of two active products with the same name.
--
-- Why a function of our own rather than the unaccent extension: unaccent is a contrib module that may be
-- missing on the server or not creatable by the role that migrates, and unaccent() is only STABLE (its
-- rules file can change), so it cannot back a generated column or an index without an IMMUTABLE wrapper
-- that would lie. tdj_fold folds exactly what store::text::fold folds in Rust (the accents of French and the
-- œ/æ ligatures, then lower case): the catalogue search, the CSV headers and the offline assistant agree on
-- what "the same word" is, and a test compares the two implementations.
create function tdj_fold(value text) returns text
  language sql immutable strict parallel safe
  return lower(replace(replace(replace(replace(
    translate(value,
      'àáâãäåÀÁÂÃÄÅçÇèéêëÈÉÊËìíîïÌÍÎÏñÑòóôõöÒÓÔÕÖùúûüÙÚÛÜýÿÝ',
      'aaaaaaaaaaaacceeeeeeeeiiiiiiiinnoooooooooouuuuuuuuyyy'),
    'œ', 'oe'), 'Œ', 'oe'), 'æ', 'ae'), 'Æ', 'ae'));

-- The name as the shop's customers would say it: folded, spaces trimmed and collapsed. Generated, so every
-- write path (API, CSV import, future ones) keeps it right without the store doing anything.
alter table product
  add column name_key text not null
    generated always as (regexp_replace(btrim(tdj_fold(name)), '\s+', ' ', 'g')) stored;

-- Duplicate detection looks up the other active products of the shop with the same key.
create index product_tenant_name_key on product (tenant_id, name_key) where active;
