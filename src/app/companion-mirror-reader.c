/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-mirror-reader"

#include "config.h"

#include "companion-mirror-reader.h"

struct _CompanionMirrorReader
{
  GObject               parent_instance;

  char                 *state_dir;
  GThreadPool          *worker;
  /* Touched only on the worker thread until finalize. */
  CompanionMirrorStore *store;
  GError               *open_error;
};

G_DEFINE_FINAL_TYPE (CompanionMirrorReader, companion_mirror_reader, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct _ReadJob ReadJob;

/* Runs on the worker thread; returns the task's result (may be NULL). */
typedef gpointer (*ReadFunc) (CompanionMirrorStore *store,
                              ReadJob              *job,
                              GError              **error);

struct _ReadJob
{
  ReadFunc         run;
  GDestroyNotify   free_result;
  CompanionEntity  entity;
  char            *text;
  char            *mark_start;
  char            *mark_end;
  gint64           time;
  guint            limit;
  guint            offset;
  /* Filled on the worker thread, handed to the task on the caller's. */
  gpointer         result;
  GError          *error;
};

/* Lower than GDK_PRIORITY_REDRAW (G_PRIORITY_HIGH_IDLE + 20). */
#define COMPANION_MIRROR_READER_PRIORITY (G_PRIORITY_HIGH_IDLE + 30)

static void
read_job_free (ReadJob *job)
{
  if (job->result != NULL && job->free_result != NULL)
    job->free_result (job->result);
  g_clear_error (&job->error);
  g_free (job->text);
  g_free (job->mark_start);
  g_free (job->mark_end);
  g_free (job);
}

/* Back on the caller's context: the task's last reference is dropped here,
 * never on the worker, so the reader is never finalized by its own thread. */
static gboolean
complete_read (gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ReadJob *job = g_task_get_task_data (task);

  if (job->error != NULL)
    g_task_return_error (task, g_steal_pointer (&job->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&job->result), job->free_result);
  return G_SOURCE_REMOVE;
}

static void
run_read (gpointer data,
          gpointer user_data)
{
  GTask *task = data;
  CompanionMirrorReader *self = g_task_get_source_object (task);
  ReadJob *job = g_task_get_task_data (task);

  if (!g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &job->error))
    {
      if (self->store == NULL && self->open_error == NULL)
        self->store = companion_mirror_store_open (self->state_dir, &self->open_error);
      if (self->store == NULL)
        job->error = g_error_copy (self->open_error);
      else
        job->result = job->run (self->store, job, &job->error);
    }

  /* Below drawing: a burst of results (thousands of contact names) must
   * not hold back the window's frames, nor input. */
  g_main_context_invoke_full (g_task_get_context (task), COMPANION_MIRROR_READER_PRIORITY,
                              complete_read, task, NULL);
}

static void
queue_read (CompanionMirrorReader *self,
            ReadJob               *job,
            gpointer               source_tag,
            GCancellable          *cancellable,
            GAsyncReadyCallback    callback,
            gpointer               user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_priority (task, COMPANION_MIRROR_READER_PRIORITY);
  g_task_set_task_data (task, job, (GDestroyNotify) read_job_free);
  /* The pool never fails to take a job when it may not create threads
   * exclusively; the reference goes to complete_read. */
  g_thread_pool_push (self->worker, task, NULL);
}

static ReadJob *
read_job_new (ReadFunc       run,
              GDestroyNotify free_result)
{
  ReadJob *job = g_new0 (ReadJob, 1);

  job->run = run;
  job->free_result = free_result;
  return job;
}

static gpointer
finish_read (CompanionMirrorReader *self,
             GAsyncResult          *result,
             gpointer               source_tag,
             GError               **error)
{
  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
companion_mirror_reader_finalize (GObject *object)
{
  CompanionMirrorReader *self = COMPANION_MIRROR_READER (object);

  /* Every job holds a reference: none is left to wait for. */
  g_thread_pool_free (self->worker, TRUE, TRUE);
  g_clear_object (&self->store);
  g_clear_error (&self->open_error);
  g_clear_pointer (&self->state_dir, g_free);

  G_OBJECT_CLASS (companion_mirror_reader_parent_class)->finalize (object);
}

static void
companion_mirror_reader_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  CompanionMirrorReader *self = COMPANION_MIRROR_READER (object);

  switch (prop_id)
    {
    case PROP_STATE_DIR:
      g_value_set_string (value, self->state_dir);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_mirror_reader_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  CompanionMirrorReader *self = COMPANION_MIRROR_READER (object);

  switch (prop_id)
    {
    case PROP_STATE_DIR:
      self->state_dir = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_mirror_reader_class_init (CompanionMirrorReaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_mirror_reader_finalize;
  object_class->get_property = companion_mirror_reader_get_property;
  object_class->set_property = companion_mirror_reader_set_property;

  properties[PROP_STATE_DIR] =
    g_param_spec_string ("state-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
companion_mirror_reader_init (CompanionMirrorReader *self)
{
  /* One thread, not exclusive: it ends when idle and comes back on demand. */
  self->worker = g_thread_pool_new (run_read, self, 1, FALSE, NULL);
}

CompanionMirrorReader *
companion_mirror_reader_new (const char *state_dir)
{
  g_return_val_if_fail (state_dir != NULL, NULL);

  return g_object_new (COMPANION_TYPE_MIRROR_READER, "state-dir", state_dir, NULL);
}

const char *
companion_mirror_reader_get_state_dir (CompanionMirrorReader *self)
{
  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (self), NULL);

  return self->state_dir;
}

/* Chats. */

static gpointer
read_chats (CompanionMirrorStore *store,
            ReadJob              *job,
            GError              **error)
{
  return companion_mirror_store_list_chats (store, job->limit, job->offset, error);
}

void
companion_mirror_reader_list_chats_async (CompanionMirrorReader *self,
                                          guint                  limit,
                                          guint                  offset,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));

  job = read_job_new (read_chats, (GDestroyNotify) g_ptr_array_unref);
  job->limit = limit;
  job->offset = offset;
  queue_read (self, job, companion_mirror_reader_list_chats_async, cancellable, callback, user_data);
}

GPtrArray *
companion_mirror_reader_list_chats_finish (CompanionMirrorReader *self,
                                           GAsyncResult          *result,
                                           GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_list_chats_async, error);
}

/* Messages. */

static gpointer
read_messages (CompanionMirrorStore *store,
               ReadJob              *job,
               GError              **error)
{
  return companion_mirror_store_list_messages (store, job->mark_start, job->time, job->text,
                                               job->limit, error);
}

void
companion_mirror_reader_list_messages_async (CompanionMirrorReader *self,
                                             const char            *chat_id,
                                             gint64                 before_time,
                                             const char            *before_id,
                                             guint                  limit,
                                             GCancellable          *cancellable,
                                             GAsyncReadyCallback    callback,
                                             gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));
  g_return_if_fail (chat_id != NULL);

  job = read_job_new (read_messages, (GDestroyNotify) g_ptr_array_unref);
  job->mark_start = g_strdup (chat_id);
  job->time = before_time;
  job->text = g_strdup (before_id);
  job->limit = limit;
  queue_read (self, job, companion_mirror_reader_list_messages_async, cancellable, callback, user_data);
}

GPtrArray *
companion_mirror_reader_list_messages_finish (CompanionMirrorReader *self,
                                              GAsyncResult          *result,
                                              GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_list_messages_async, error);
}

/* Calls. */

static gpointer
read_calls (CompanionMirrorStore *store,
            ReadJob              *job,
            GError              **error)
{
  return companion_mirror_store_list_calls (store, job->limit, job->offset, error);
}

void
companion_mirror_reader_list_calls_async (CompanionMirrorReader *self,
                                          guint                  limit,
                                          guint                  offset,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));

  job = read_job_new (read_calls, (GDestroyNotify) g_ptr_array_unref);
  job->limit = limit;
  job->offset = offset;
  queue_read (self, job, companion_mirror_reader_list_calls_async, cancellable, callback, user_data);
}

GPtrArray *
companion_mirror_reader_list_calls_finish (CompanionMirrorReader *self,
                                           GAsyncResult          *result,
                                           GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_list_calls_async, error);
}

/* Search. */

static gpointer
read_search (CompanionMirrorStore *store,
             ReadJob              *job,
             GError              **error)
{
  return companion_mirror_store_search (store, job->text, job->mark_start, job->mark_end,
                                        job->limit, error);
}

void
companion_mirror_reader_search_async (CompanionMirrorReader *self,
                                      const char            *query,
                                      const char            *mark_start,
                                      const char            *mark_end,
                                      guint                  limit,
                                      GCancellable          *cancellable,
                                      GAsyncReadyCallback    callback,
                                      gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));
  g_return_if_fail (query != NULL);
  g_return_if_fail (mark_start != NULL);
  g_return_if_fail (mark_end != NULL);

  job = read_job_new (read_search, (GDestroyNotify) g_ptr_array_unref);
  job->text = g_strdup (query);
  job->mark_start = g_strdup (mark_start);
  job->mark_end = g_strdup (mark_end);
  job->limit = limit;
  queue_read (self, job, companion_mirror_reader_search_async, cancellable, callback, user_data);
}

GPtrArray *
companion_mirror_reader_search_finish (CompanionMirrorReader *self,
                                       GAsyncResult          *result,
                                       GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_search_async, error);
}

/* Lookup. */

static gpointer
read_lookup (CompanionMirrorStore *store,
             ReadJob              *job,
             GError              **error)
{
  return companion_mirror_store_lookup (store, job->entity, job->text, error);
}

void
companion_mirror_reader_lookup_async (CompanionMirrorReader *self,
                                      CompanionEntity        entity,
                                      const char            *id,
                                      GCancellable          *cancellable,
                                      GAsyncReadyCallback    callback,
                                      gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));
  g_return_if_fail (entity < COMPANION_N_ENTITIES);
  g_return_if_fail (id != NULL);

  job = read_job_new (read_lookup, (GDestroyNotify) json_object_unref);
  job->entity = entity;
  job->text = g_strdup (id);
  queue_read (self, job, companion_mirror_reader_lookup_async, cancellable, callback, user_data);
}

JsonObject *
companion_mirror_reader_lookup_finish (CompanionMirrorReader *self,
                                       GAsyncResult          *result,
                                       GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_lookup_async, error);
}

/* Count. */

static gpointer
read_count (CompanionMirrorStore *store,
            ReadJob              *job,
            GError              **error)
{
  gint64 count = companion_mirror_store_count (store, job->entity, error);

  return count < 0 ? NULL : g_memdup2 (&count, sizeof count);
}

void
companion_mirror_reader_count_async (CompanionMirrorReader *self,
                                     CompanionEntity        entity,
                                     GCancellable          *cancellable,
                                     GAsyncReadyCallback    callback,
                                     gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));
  g_return_if_fail (entity < COMPANION_N_ENTITIES);

  job = read_job_new (read_count, g_free);
  job->entity = entity;
  queue_read (self, job, companion_mirror_reader_count_async, cancellable, callback, user_data);
}

gint64
companion_mirror_reader_count_finish (CompanionMirrorReader *self,
                                      GAsyncResult          *result,
                                      GError               **error)
{
  g_autofree gint64 *count = finish_read (self, result, companion_mirror_reader_count_async, error);

  return count != NULL ? *count : -1;
}

/* Media files. */

static gpointer
read_media_path (CompanionMirrorStore *store,
                 ReadJob              *job,
                 GError              **error)
{
  return companion_mirror_store_get_media_path (store, job->text);
}

void
companion_mirror_reader_media_path_async (CompanionMirrorReader *self,
                                          const char            *hash,
                                          GCancellable          *cancellable,
                                          GAsyncReadyCallback    callback,
                                          gpointer               user_data)
{
  ReadJob *job;

  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));
  g_return_if_fail (hash != NULL);

  job = read_job_new (read_media_path, g_free);
  job->text = g_strdup (hash);
  queue_read (self, job, companion_mirror_reader_media_path_async, cancellable, callback, user_data);
}

char *
companion_mirror_reader_media_path_finish (CompanionMirrorReader *self,
                                           GAsyncResult          *result,
                                           GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_media_path_async, error);
}

/* Outbox. */

static gpointer
read_outbox (CompanionMirrorStore *store,
             ReadJob              *job,
             GError              **error)
{
  return companion_mirror_store_outbox_list (store, error);
}

void
companion_mirror_reader_outbox_list_async (CompanionMirrorReader *self,
                                           GCancellable          *cancellable,
                                           GAsyncReadyCallback    callback,
                                           gpointer               user_data)
{
  g_return_if_fail (COMPANION_IS_MIRROR_READER (self));

  queue_read (self, read_job_new (read_outbox, (GDestroyNotify) g_ptr_array_unref),
              companion_mirror_reader_outbox_list_async, cancellable, callback, user_data);
}

GPtrArray *
companion_mirror_reader_outbox_list_finish (CompanionMirrorReader *self,
                                            GAsyncResult          *result,
                                            GError               **error)
{
  return finish_read (self, result, companion_mirror_reader_outbox_list_async, error);
}
