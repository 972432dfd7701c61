-- batch-video: a video is taken down while its product is out of stock (or gone from the feed), and put back.
--
-- The feed sync withdraws the video of a product that went out of stock: its
-- row says `unpublished` (with when and why) and apps stop showing it; when the
-- product is back in stock, unchanged, the same video returns (`published`,
-- `unpublished_at` cleared). Every take-down and return is kept in
-- `product_video_events`, so the history of a product's video can be read.

alter table public.product_videos drop constraint product_videos_status_check;
alter table public.product_videos add constraint product_videos_status_check
  check (status in ('published', 'failed', 'unpublished'));
alter table public.product_videos add column unpublished_at timestamptz;
alter table public.product_videos add column unpublish_reason text;

comment on column public.product_videos.unpublished_at is
  'Set while the video is withdrawn (its product out of stock or gone from the feed); null while it is live.';

create table public.product_video_events (
  id             bigint generated always as identity primary key,
  profile_id     uuid not null references auth.users (id) on delete cascade,
  partition_key  text not null check (partition_key <> ''),
  external_id    text not null check (external_id <> ''),
  event          text not null check (event in ('unpublished', 'republished')),
  reason         text,
  storage_path   text,
  created_at     timestamptz not null default now()
);

comment on table public.product_video_events is
  'A product''s video taken down (out of stock, removed from the feed) and put back (back in stock), oldest first by id.';

create index product_video_events_key_idx on public.product_video_events (profile_id, partition_key, id);

revoke all on public.product_video_events from anon, authenticated;
grant select on public.product_video_events to authenticated;
grant all on public.product_video_events to service_role;

alter table public.product_video_events enable row level security;

create policy "owners read their video events" on public.product_video_events
  for select to authenticated using (profile_id = (select auth.uid()));
