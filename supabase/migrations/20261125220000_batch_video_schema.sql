-- batch-video: product feeds, their products, and the videos published for them.
--
-- Every row belongs to a profile (the shop owner's auth user). The pipeline
-- writes with the service-role key (which bypasses RLS); signed-in users can
-- read their own rows and manage their own feeds.
--
-- The pipeline's lookups and the index/constraint that serves each:
--   upsert feed           on (profile_id, url)            product_feeds_profile_url_key
--   upsert products       on (feed_id, external_id)       products_feed_external_id_key
--   product by key        (profile_id, partition_key)     products_profile_partition_key_idx
--   upsert/get video      on (profile_id, partition_key)  product_videos_profile_partition_key_key
--   failed videos list    (profile_id, failed_at desc)    product_videos_failed_idx (partial)

-- ---------------------------------------------------------------------------
-- shared trigger functions

create or replace function public.batch_video_touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- ---------------------------------------------------------------------------
-- product_feeds

create table public.product_feeds (
  id            uuid primary key default gen_random_uuid(),
  profile_id    uuid not null references auth.users (id) on delete cascade,
  url           text not null check (url <> ''),
  name          text,
  last_read_at  timestamptz,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  constraint product_feeds_profile_url_key unique (profile_id, url)
);

comment on table public.product_feeds is 'Product feeds (Google Merchant XML or CSV) a profile renders videos for.';

create trigger product_feeds_touch_updated_at
  before update on public.product_feeds
  for each row execute function public.batch_video_touch_updated_at();

-- ---------------------------------------------------------------------------
-- products

create table public.products (
  id                      uuid primary key default gen_random_uuid(),
  profile_id              uuid not null references auth.users (id) on delete cascade,
  feed_id                 uuid not null references public.product_feeds (id) on delete cascade,
  external_id             text not null check (external_id <> ''),
  partition_key           text,
  title                   text not null,
  description             text,
  brand                   text,
  product_type            text,
  link                    text,
  image_link              text,
  additional_image_links  jsonb not null default '[]'::jsonb,
  price                   numeric not null check (price >= 0),
  sale_price              numeric check (sale_price >= 0),
  currency                text not null check (currency ~ '^[A-Z]{3}$'),
  price_raw               text,
  sale_price_raw          text,
  availability            text,
  content_hash            text,
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now(),
  constraint products_feed_external_id_key unique (feed_id, external_id)
);

comment on table public.products is 'One row per feed item; prices exact (numeric) plus the raw strings from the feed.';
comment on column public.products.external_id is 'The feed''s own product id (g:id).';
comment on column public.products.partition_key is 'The Dagster partition key derived from external_id.';

create index products_profile_partition_key_idx on public.products (profile_id, partition_key);

create trigger products_touch_updated_at
  before update on public.products
  for each row execute function public.batch_video_touch_updated_at();

-- ---------------------------------------------------------------------------
-- product_videos

create table public.product_videos (
  id             uuid primary key default gen_random_uuid(),
  profile_id     uuid not null references auth.users (id) on delete cascade,
  feed_id        uuid references public.product_feeds (id) on delete set null,
  product_id     uuid references public.products (id) on delete set null,
  external_id    text not null check (external_id <> ''),
  partition_key  text not null check (partition_key <> ''),
  status         text not null check (status in ('published', 'failed')),
  storage        text check (storage in ('local', 'supabase')),
  storage_path   text,
  url            text,
  poster_url     text,
  duration_s     double precision check (duration_s >= 0),
  size_bytes     bigint check (size_bytes >= 0),
  content_hash   text,
  settings_hash  text,
  provider       text,
  run_id         text,
  backfill_id    text,
  error_stage    text,
  error_message  text,
  failed_at      timestamptz,
  published_at   timestamptz,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  constraint product_videos_profile_partition_key_key unique (profile_id, partition_key),
  constraint product_videos_failure_has_reason check (status <> 'failed' or error_message is not null)
);

comment on table public.product_videos is
  'The latest video of each product. status=failed keeps the previously published storage_path/url next to the error.';

create index product_videos_failed_idx on public.product_videos (profile_id, failed_at desc) where status = 'failed';
create index product_videos_product_id_idx on public.product_videos (product_id);
create index product_videos_feed_id_idx on public.product_videos (feed_id);

create trigger product_videos_touch_updated_at
  before update on public.product_videos
  for each row execute function public.batch_video_touch_updated_at();

-- The pipeline knows a product by its feed id; link the row to `products` here
-- so the client needs no extra lookup request.
create or replace function public.batch_video_link_video_product()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.feed_id is not null then
    select p.id into new.product_id
      from public.products p
     where p.feed_id = new.feed_id and p.external_id = new.external_id;
  elsif new.product_id is null then
    select p.id into new.product_id
      from public.products p
     where p.profile_id = new.profile_id and p.external_id = new.external_id
     order by p.updated_at desc
     limit 1;
  end if;
  return new;
end;
$$;

create trigger product_videos_link_product
  before insert or update of feed_id, external_id on public.product_videos
  for each row execute function public.batch_video_link_video_product();

-- Products recorded after their video (first run) get linked when they arrive.
create or replace function public.batch_video_link_product_videos()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.product_videos v
     set product_id = new.id
   where v.product_id is null
     and v.profile_id = new.profile_id
     and v.external_id = new.external_id
     and (v.feed_id = new.feed_id or v.feed_id is null);
  return null;
end;
$$;

create trigger products_link_videos
  after insert on public.products
  for each row execute function public.batch_video_link_product_videos();

-- ---------------------------------------------------------------------------
-- privileges and row-level security

-- Supabase grants anon/authenticated everything on new tables by default: narrow it.
revoke all on public.product_feeds, public.products, public.product_videos from anon, authenticated;
grant select, insert, update, delete on public.product_feeds to authenticated;
grant select on public.products, public.product_videos to authenticated;
grant all on public.product_feeds, public.products, public.product_videos to service_role;

alter table public.product_feeds enable row level security;
alter table public.products enable row level security;
alter table public.product_videos enable row level security;

-- `(select auth.uid())` is evaluated once per query, not once per row.
create policy "owners read their feeds" on public.product_feeds
  for select to authenticated using (profile_id = (select auth.uid()));
create policy "owners add feeds" on public.product_feeds
  for insert to authenticated with check (profile_id = (select auth.uid()));
create policy "owners edit their feeds" on public.product_feeds
  for update to authenticated using (profile_id = (select auth.uid())) with check (profile_id = (select auth.uid()));
create policy "owners delete their feeds" on public.product_feeds
  for delete to authenticated using (profile_id = (select auth.uid()));

create policy "owners read their products" on public.products
  for select to authenticated using (profile_id = (select auth.uid()));

create policy "owners read their videos" on public.product_videos
  for select to authenticated using (profile_id = (select auth.uid()));
