-- batch-video: an older run can't replace a newer run's video row; the product-videos bucket is private.
--
-- Every publish and every recorded failure carries the start time of the run
-- that made it (`run_started_at`). Two runs of one product can overlap (a CLI
-- launch, the feed sensor and a UI backfill at once, or several workers): the
-- one that started later wins, whichever finishes last. The rule lives in the
-- database, so it holds for every writer and for requests that race each other.

alter table public.product_videos add column run_started_at timestamptz;

comment on column public.product_videos.run_started_at is
  'Start time of the run that wrote this row; a row from an older run never replaces it (trigger product_videos_newer_run_wins).';

create or replace function public.batch_video_newer_run_wins()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.run_started_at is not null and new.run_started_at is not null
     and new.run_started_at < old.run_started_at
     and new.run_id is distinct from old.run_id then
    return null;  -- skip this row: the live video (or failure) belongs to a newer run
  end if;
  return new;
end;
$$;

-- Named to fire before the other BEFORE UPDATE triggers (they fire in name order).
create trigger product_videos_a_newer_run_wins
  before update on public.product_videos
  for each row execute function public.batch_video_newer_run_wins();

-- Videos are private by default: apps download them with signed URLs made from
-- `storage_path` (or through the storage policy below). A shop that wants public
-- links makes the bucket public and sets SUPABASE_PUBLIC_URLS=true.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('product-videos', 'product-videos', false, 209715200, array['video/mp4', 'image/jpeg'])
on conflict (id) do nothing;

-- (docs/publishing.md used to suggest creating this policy by hand)
drop policy if exists "owners read their videos" on storage.objects;
create policy "owners read their videos" on storage.objects for select to authenticated
  using (bucket_id = 'product-videos' and (storage.foldername(name))[1] = (select auth.uid())::text);
