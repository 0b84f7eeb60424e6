/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-snapshot-writer"

#include "config.h"

#include "companion-mirror-store.h"
#include "companion-snapshot-writer.h"

struct _CompanionSnapshotWriter
{
  GObject               parent_instance;

  char                 *state_dir;
  GThreadPool          *checker;    /* one thread: checks pages in order, then passes commits on */
  GThreadPool          *pool;       /* one thread: commits in order */
  GPtrArray            *pages;      /* WriterPage: added, not committed yet */
  gint                  generation; /* atomic: jobs of an older one are skipped */
  /* The worker thread's alone. */
  CompanionMirrorStore *store;
  gint                  failed;     /* the generation whose commit failed */
};

G_DEFINE_FINAL_TYPE (CompanionSnapshotWriter, companion_snapshot_writer, G_TYPE_OBJECT)

typedef struct
{
  CompanionEntity  entity;
  JsonNode        *records;
  /* The checking thread's until the commit is passed on: the canonical
   * JSON of the records up to the first that is not valid. */
  GPtrArray       *canonical;
  gint             generation;
  GTask           *commit;      /* instead of records: a commit to pass on */
} WriterPage;

static void
writer_page_free (WriterPage *page)
{
  g_clear_pointer (&page->records, json_node_unref);
  g_clear_pointer (&page->canonical, g_ptr_array_unref);
  g_free (page);
}

typedef struct
{
  gint     generation;
  GPtrArray *pages;  /* WriterPage; NULL for the finish */
  guint64  cursor;   /* the finish's */
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->pages, g_ptr_array_unref);
  g_free (job);
}

static GPtrArray *
pages_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) writer_page_free);
}

static gboolean
write_pages (CompanionMirrorStore  *store,
             GPtrArray             *pages,
             GError               **error)
{
  g_autoptr(GArray) snapshot = g_array_sized_new (FALSE, FALSE, sizeof (CompanionSnapshotPage), pages->len);
  g_autoptr(GPtrArray) canonical = g_ptr_array_sized_new (pages->len);
  gboolean ok;

  for (guint p = 0; p < pages->len; p++)
    {
      WriterPage *page = g_ptr_array_index (pages, p);
      JsonArray *array = json_node_get_array (page->records);
      guint n = json_array_get_length (array);
      CompanionSnapshotPage item = { page->entity, g_ptr_array_sized_new (n) };

      /* The receiving side checked that each element is an object. */
      for (guint i = 0; i < n; i++)
        g_ptr_array_add (item.records, json_node_get_object (json_array_get_element (array, i)));
      g_array_append_val (snapshot, item);
      g_ptr_array_add (canonical, page->canonical);
    }
  ok = companion_mirror_store_apply_checked_snapshot_pages (store, (CompanionSnapshotPage *) snapshot->data,
                                                            (GPtrArray * const *) canonical->pdata,
                                                            snapshot->len, error);
  for (guint p = 0; p < snapshot->len; p++)
    g_ptr_array_unref (g_array_index (snapshot, CompanionSnapshotPage, p).records);
  return ok;
}

/* Checking thread: validates and writes out a page's records, so that the
 * writing thread only writes; it checks again from the first one that
 * fails, with the same error. A commit is passed on in turn. */
static void
run_check (gpointer data,
           gpointer user_data)
{
  CompanionSnapshotWriter *self = user_data;
  WriterPage *page;
  JsonArray *array;
  guint n;

  page = data;
  if (page->commit != NULL)
    {
      g_thread_pool_push (self->pool, page->commit, NULL);
      g_free (page);
      return;
    }
  if (page->generation != g_atomic_int_get (&self->generation))
    return;
  array = json_node_get_array (page->records);
  n = json_array_get_length (array);
  page->canonical = g_ptr_array_new_full (n, g_free);
  for (guint i = 0; i < n; i++)
    {
      char *json = companion_record_to_canonical (page->entity,
                                                  json_node_get_object (json_array_get_element (array, i)),
                                                  NULL, NULL);

      if (json == NULL)
        break;
      g_ptr_array_add (page->canonical, json);
    }
}

static gboolean
release_task (gpointer task)
{
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

/* The task's last reference may hold the writer's: it is dropped on the
 * thread that owns the writer, never on one of the writer's own threads.
 * Its pages' records go with it: at the priority of the incoming pages,
 * which would otherwise starve an idle source and pile up unbounded by the
 * sync window (peak memory of a 1M-message first sync varied 137–200 MiB). */
static void
release_task_later (GTask *task)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, release_task, task, NULL);
  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

static void
write_job (GTask                   *task,
           CompanionSnapshotWriter *self)
{
  Job *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (job->generation != g_atomic_int_get (&self->generation) || job->generation == self->failed)
    {
      g_clear_pointer (&job->pages, g_ptr_array_unref);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The snapshot was given up");
      return;
    }
  if (self->store == NULL && (self->store = companion_mirror_store_open (self->state_dir, &error)) != NULL)
    companion_mirror_store_set_index_snapshot_pages (self->store, TRUE);
  if (self->store == NULL)
    ok = FALSE;
  else if (job->pages != NULL)
    ok = write_pages (self->store, job->pages, &error);
  else
    {
      ok = companion_mirror_store_finish_snapshot (self->store, job->cursor, &error);
      g_clear_object (&self->store);
    }
  /* The records are freed with the task, on the receiving thread:
   * freeing them would be a fifth of the work of this thread, the busiest
   * of the three. */
  if (!ok)
    {
      self->failed = job->generation;
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/* Writing thread. */
static void
run_job (gpointer data,
         gpointer user_data)
{
  GTask *task = data;

  write_job (task, user_data);
  release_task_later (task);
}

static void
queue_job (CompanionSnapshotWriter *self,
           Job                     *job,
           gpointer                 source_tag,
           GAsyncReadyCallback      callback,
           gpointer                 user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  WriterPage *pass_on;

  g_task_set_source_tag (task, source_tag);
  job->generation = g_atomic_int_get (&self->generation);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  /* After the checks of its pages. Only fails when the pool cannot start
   * a thread at all. */
  pass_on = g_new0 (WriterPage, 1);
  pass_on->commit = task;
  g_thread_pool_push (self->checker, pass_on, NULL);
}

static void
pools_new (CompanionSnapshotWriter *self)
{
  self->checker = g_thread_pool_new (run_check, self, 1, FALSE, NULL);
  self->pool = g_thread_pool_new (run_job, self, 1, FALSE, NULL);
}

/* Waits for the running check and commit; the waiting ones see that the
 * generation changed. */
static void
pools_free (CompanionSnapshotWriter *self)
{
  g_atomic_int_inc (&self->generation);
  /* The checker first: it may still pass a commit on. */
  g_thread_pool_free (g_steal_pointer (&self->checker), FALSE, TRUE);
  g_thread_pool_free (g_steal_pointer (&self->pool), FALSE, TRUE);
}

static void
companion_snapshot_writer_dispose (GObject *object)
{
  CompanionSnapshotWriter *self = COMPANION_SNAPSHOT_WRITER (object);

  if (self->pool != NULL)
    pools_free (self);
  g_clear_object (&self->store);
  g_clear_pointer (&self->pages, g_ptr_array_unref);

  G_OBJECT_CLASS (companion_snapshot_writer_parent_class)->dispose (object);
}

static void
companion_snapshot_writer_finalize (GObject *object)
{
  CompanionSnapshotWriter *self = COMPANION_SNAPSHOT_WRITER (object);

  g_free (self->state_dir);

  G_OBJECT_CLASS (companion_snapshot_writer_parent_class)->finalize (object);
}

static void
companion_snapshot_writer_class_init (CompanionSnapshotWriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_snapshot_writer_dispose;
  object_class->finalize = companion_snapshot_writer_finalize;
}

static void
companion_snapshot_writer_init (CompanionSnapshotWriter *self)
{
  self->pages = pages_new ();
  self->failed = -1;
  pools_new (self);
}

CompanionSnapshotWriter *
companion_snapshot_writer_new (const char *state_dir)
{
  CompanionSnapshotWriter *self;

  g_return_val_if_fail (state_dir != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_SNAPSHOT_WRITER, NULL);
  self->state_dir = g_strdup (state_dir);
  return self;
}

void
companion_snapshot_writer_add_page (CompanionSnapshotWriter *self,
                                    CompanionEntity          entity,
                                    JsonNode                *records)
{
  WriterPage *page;

  g_return_if_fail (COMPANION_IS_SNAPSHOT_WRITER (self));
  g_return_if_fail (records != NULL && JSON_NODE_HOLDS_ARRAY (records));

  page = g_new0 (WriterPage, 1);
  page->entity = entity;
  page->records = json_node_ref (records);
  page->generation = g_atomic_int_get (&self->generation);
  g_ptr_array_add (self->pages, page);
  g_thread_pool_push (self->checker, page, NULL);
}

void
companion_snapshot_writer_commit_async (CompanionSnapshotWriter *self,
                                        GAsyncReadyCallback      callback,
                                        gpointer                 user_data)
{
  Job *job;

  g_return_if_fail (COMPANION_IS_SNAPSHOT_WRITER (self));

  job = g_new0 (Job, 1);
  job->pages = g_steal_pointer (&self->pages);
  self->pages = pages_new ();
  queue_job (self, job, companion_snapshot_writer_commit_async, callback, user_data);
}

gboolean
companion_snapshot_writer_commit_finish (CompanionSnapshotWriter *self,
                                         GAsyncResult            *result,
                                         GError                 **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == companion_snapshot_writer_commit_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
companion_snapshot_writer_finish_async (CompanionSnapshotWriter *self,
                                        guint64                  cursor,
                                        GAsyncReadyCallback      callback,
                                        gpointer                 user_data)
{
  Job *job;

  g_return_if_fail (COMPANION_IS_SNAPSHOT_WRITER (self));

  job = g_new0 (Job, 1);
  job->cursor = cursor;
  queue_job (self, job, companion_snapshot_writer_finish_async, callback, user_data);
}

gboolean
companion_snapshot_writer_finish_finish (CompanionSnapshotWriter *self,
                                         GAsyncResult            *result,
                                         GError                 **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == companion_snapshot_writer_finish_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
companion_snapshot_writer_cancel (CompanionSnapshotWriter *self)
{
  g_return_if_fail (COMPANION_IS_SNAPSHOT_WRITER (self));

  pools_free (self);
  g_ptr_array_set_size (self->pages, 0);
  pools_new (self);
}
