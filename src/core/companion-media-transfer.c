/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-media-transfer"
#define _GNU_SOURCE /* sync_file_range */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-media-transfer.h"
#include "companion-record.h"

/* Progress is written to the mirror at least every this many bytes (and at
 * a disconnect): a restart re-fetches at most this much. */
#define PROGRESS_RECORD_BYTES (G_GUINT64_CONSTANT (4) * 1024 * 1024)
#define HASH_LEN COMPANION_MEDIA_HASH_LEN
/* A partial file is hashed again in reads of this size after a restart. */
#define REHASH_BLOCK (1024 * 1024)
/* Chunks waiting for the writer thread at most: the main thread waits for
 * room beyond this, so memory stays flat whatever the disk's pace. */
#define WRITE_QUEUE_MAX 8

/* libsodium declares the state 64-byte aligned, more than malloc gives. */
static crypto_generichash_state *
hash_state_new (void)
{
  crypto_generichash_state *state = g_aligned_alloc0 (1, sizeof *state, 64);

  crypto_generichash_init (state, NULL, 0, HASH_LEN);
  return state;
}

typedef struct
{
  char    *hash;
  guint8   raw[HASH_LEN];
  guint64  size;
  guint64  received;
  guint64  recorded;        /* progress last written to the mirror */
  guint64  requested_at;    /* the offset asked for */
  guint    since_ack;
  gboolean retried;         /* restarted from 0 after a "bad-offset" */
  gboolean answered;        /* a chunk or media-end of this request came */
  int      fd;
  char    *partial_path;
  /* The BLAKE2b of the first RECEIVED bytes, updated as chunks are written,
   * so the end needs no second read; NULL while the partial file left by an
   * earlier run is hashed again on a worker thread (PREPARING). */
  crypto_generichash_state *hashing;
  GTask        *preparing;
  GCancellable *cancellable;
  gboolean      finishing;  /* verified bytes being kept on a worker thread */
  GError       *write_error; /* the writer thread's failure, not reported yet */
} Active;

/* One chunk for the writer thread: where it goes and what it updates. The
 * main thread touches neither FD nor HASHING until the writer is drained. */
typedef struct
{
  GBytes                   *data;
  int                       fd;
  crypto_generichash_state *hashing;
  const char               *path;
  guint64                   offset;
} WriteJob;

/* Writes and hashes received chunks on a thread of its own, in order, while
 * the main thread decrypts the next ones: the two largest costs of a
 * download run side by side. */
typedef struct
{
  GMutex   lock;
  GCond    cond;
  GQueue   jobs;       /* WriteJob *, oldest first */
  gboolean busy;       /* the thread holds a job it has not finished */
  gboolean quit;
  GError  *error;      /* the first failure; later jobs are dropped */
  guint64  failed_at;  /* offset of the chunk that failed */
  GThread *thread;
} Writer;

/* Where a transfer cut off by a disconnect left its hash. */
typedef struct
{
  guint64                   offset;
  crypto_generichash_state *state;
} SavedHash;

struct _CompanionMediaTransfer
{
  GObject                 parent_instance;

  CompanionDesktopServer *server;
  CompanionMirrorStore   *store;
  guint64                 auto_limit;

  GQueue                  queue;    /* char *hash, owned */
  GHashTable             *wanted;   /* hash → NULL: queued or active */
  GHashTable             *failed;   /* hash → NULL: not queued again automatically */
  GHashTable             *saved;    /* hash → SavedHash *: resumed without reading the file again */
  Active                 *active;
  Writer                  writer;
  guint                   idle_id;
  guint                   scan;     /* SCAN_* to do at the next idle */
};

G_DEFINE_FINAL_TYPE (CompanionMediaTransfer, companion_media_transfer, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-media-transfer-error-quark, companion_media_transfer_error)

enum {
  PROP_0,
  PROP_AUTO_DOWNLOAD_LIMIT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PROGRESS,
  SIGNAL_COMPLETE,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* What to queue at the next idle: nothing, partial media only (at a
 * connection, before sync has run), or partial and small absent media
 * (after a sync). */
enum { SCAN_NONE, SCAN_PARTIAL, SCAN_ALL };

static void schedule (CompanionMediaTransfer *self);

static char *
partial_path (CompanionMediaTransfer *self,
              const char             *hash)
{
  g_autofree char *name = g_strconcat (".partial-", hash, NULL);

  return g_build_filename (companion_mirror_store_get_state_dir (self->store),
                           COMPANION_MIRROR_STORE_MEDIA_DIR, name, NULL);
}

static void
saved_hash_free (SavedHash *saved)
{
  g_aligned_free (saved->state);
  g_free (saved);
}

static gpointer
writer_thread (gpointer user_data)
{
  Writer *writer = user_data;

  g_mutex_lock (&writer->lock);
  for (;;)
    {
      WriteJob *job;
      g_autoptr(GError) error = NULL;
      gsize len = 0;
      const guint8 *data;

      while (g_queue_is_empty (&writer->jobs) && !writer->quit)
        g_cond_wait (&writer->cond, &writer->lock);
      if (g_queue_is_empty (&writer->jobs))
        break;
      job = g_queue_pop_head (&writer->jobs);
      writer->busy = TRUE;
      if (writer->error == NULL)
        {
          g_mutex_unlock (&writer->lock);
          data = g_bytes_get_data (job->data, &len);
          if (companion_media_write_chunk (job->fd, data, len, job->path, &error))
            crypto_generichash_update (job->hashing, data, len);
          g_mutex_lock (&writer->lock);
          if (error != NULL)
            {
              writer->error = g_steal_pointer (&error);
              writer->failed_at = job->offset;
            }
        }
      g_bytes_unref (job->data);
      g_free (job);
      writer->busy = FALSE;
      g_cond_broadcast (&writer->cond);
    }
  g_mutex_unlock (&writer->lock);
  return NULL;
}

/* Hands a chunk of ACTIVE to the writer thread, once there is room. */
static void
writer_push (CompanionMediaTransfer *self,
             Active                 *active,
             GBytes                 *data)
{
  Writer *writer = &self->writer;
  WriteJob *job = g_new (WriteJob, 1);

  job->data = g_bytes_ref (data);
  job->fd = active->fd;
  job->hashing = active->hashing;
  job->path = active->partial_path;
  job->offset = active->received;

  g_mutex_lock (&writer->lock);
  if (writer->thread == NULL)
    writer->thread = g_thread_new ("media-writer", writer_thread, writer);
  while (g_queue_get_length (&writer->jobs) >= WRITE_QUEUE_MAX)
    g_cond_wait (&writer->cond, &writer->lock);
  g_queue_push_tail (&writer->jobs, job);
  g_cond_broadcast (&writer->cond);
  g_mutex_unlock (&writer->lock);
}

/* Waits until every chunk handed over is written and hashed: before the
 * main thread uses the file or the hash. After a failure, ACTIVE counts
 * only what was written before it, and the error is returned. */
static GError *
writer_drain (CompanionMediaTransfer *self,
              Active                 *active)
{
  Writer *writer = &self->writer;
  GError *error;

  g_mutex_lock (&writer->lock);
  while (!g_queue_is_empty (&writer->jobs) || writer->busy)
    g_cond_wait (&writer->cond, &writer->lock);
  error = g_steal_pointer (&writer->error);
  if (error != NULL)
    active->received = MIN (active->received, writer->failed_at);
  g_mutex_unlock (&writer->lock);
  return error;
}

/* A failure of the writer so far, without waiting. */
static gboolean
writer_failed (CompanionMediaTransfer *self)
{
  gboolean failed;

  g_mutex_lock (&self->writer.lock);
  failed = self->writer.error != NULL;
  g_mutex_unlock (&self->writer.lock);
  return failed;
}

/* Drains the writer before the main thread uses ACTIVE's file or hash; a
 * failure is kept for on_chunk or media-end to report. */
static void
settle (CompanionMediaTransfer *self,
        Active                 *active)
{
  GError *error = writer_drain (self, active);

  if (error != NULL && active->write_error == NULL)
    active->write_error = error;
  else if (error != NULL)
    g_error_free (error);
}

static void
active_free (Active *active)
{
  if (active->fd >= 0)
    close (active->fd);
  if (active->cancellable != NULL)
    g_cancellable_cancel (active->cancellable);
  g_clear_object (&active->cancellable);
  g_clear_pointer (&active->hashing, g_aligned_free);
  g_clear_error (&active->write_error);
  g_free (active->hash);
  g_free (active->partial_path);
  g_free (active);
}

/* Keeps the hash of what ACTIVE received, for when it is resumed in this run. */
static void
save_hash (CompanionMediaTransfer *self,
           Active                 *active)
{
  SavedHash *saved;

  settle (self, active);
  if (active->hashing == NULL || active->received == 0)
    return;
  saved = g_new (SavedHash, 1);
  saved->offset = active->received;
  saved->state = g_steal_pointer (&active->hashing);
  g_hash_table_replace (self->saved, g_strdup (active->hash), saved);
}


static void
send_ack (CompanionMediaTransfer *self,
          Active                 *active)
{
  g_autoptr(JsonObject) ack = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (ack, "type", "media-ack");
  json_object_set_string_member (ack, "hash", active->hash);
  json_object_set_int_member (ack, "offset", (gint64) active->received);
  active->since_ack = 0;
  if (!companion_desktop_server_send_record (self->server, ack, &error))
    g_debug ("Could not acknowledge media %s: %s", active->hash, error->message);
}

static void
record_progress (CompanionMediaTransfer *self,
                 Active                 *active)
{
  g_autoptr(GError) error = NULL;

  settle (self, active);
  if (active->recorded == active->received)
    return;
  if (!companion_mirror_store_set_media_progress (self->store, active->hash, active->received, &error))
    g_warning ("Could not record the progress of media %s: %s", active->hash, error->message);
  else
    active->recorded = active->received;
}

/* Sets ACTIVE aside until the next connection: on disk and in the mirror,
 * with its hash kept. */
static void
suspend (CompanionMediaTransfer *self)
{
  Active *active = g_steal_pointer (&self->active);

  settle (self, active);
  record_progress (self, active);
  if (active->recorded == active->received)
    save_hash (self, active);
  g_queue_push_head (&self->queue, g_strdup (active->hash));
  active_free (active);
}

/* Ends the active transfer with ERROR; DISCARD removes what was received.
 * While the phone may still be sending it, it is told to stop, so its window
 * is not held by chunks nobody will acknowledge. */
static void
fail_active (CompanionMediaTransfer *self,
             gboolean                discard,
             GError                 *error)
{
  Active *active = g_steal_pointer (&self->active);
  g_autoptr(GError) owned = error;
  g_autofree char *hash = g_strdup (active->hash);

  settle (self, active);
  if (active->fd >= 0)
    {
      g_autoptr(JsonObject) cancel = json_object_new ();
      g_autoptr(GError) send_error = NULL;

      json_object_set_string_member (cancel, "type", "media-cancel");
      json_object_set_string_member (cancel, "hash", hash);
      if (!companion_desktop_server_send_record (self->server, cancel, &send_error))
        g_debug ("Could not cancel media %s: %s", hash, send_error->message);
    }

  g_hash_table_remove (self->wanted, hash);
  g_hash_table_add (self->failed, g_strdup (hash));
  g_hash_table_remove (self->saved, hash);
  if (discard)
    {
      g_autoptr(GError) store_error = NULL;

      g_unlink (active->partial_path);
      if (!companion_mirror_store_set_media_progress (self->store, hash, 0, &store_error))
        g_debug ("Could not reset media %s: %s", hash, store_error->message);
    }
  else
    {
      record_progress (self, active);
      if (active->recorded == active->received)
        save_hash (self, active);
    }
  active_free (active);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, hash, owned);
  schedule (self);
}

static gboolean
send_request (CompanionMediaTransfer *self,
              Active                 *active,
              GError                **error)
{
  g_autoptr(JsonObject) request = json_object_new ();

  json_object_set_string_member (request, "type", "media-request");
  json_object_set_string_member (request, "hash", active->hash);
  json_object_set_int_member (request, "offset", (gint64) active->received);
  active->requested_at = active->received;
  active->since_ack = 0;
  active->answered = FALSE;
  return companion_desktop_server_send_record (self->server, request, error);
}

/* Opens the partial file of HASH at the offset to resume from. */
static Active *
begin (CompanionMediaTransfer *self,
       const char             *hash,
       GError                **error)
{
  g_autoptr(JsonObject) record = NULL;
  CompanionMediaState state;
  guint64 received = 0;
  SavedHash *saved;
  Active *active;
  GStatBuf st;

  if (!companion_mirror_store_get_media_state (self->store, hash, &state, &received, error))
    return NULL;
  /* A file the desktop sent is here already: nothing to download. */
  if (state != COMPANION_MEDIA_STATE_COMPLETE)
    {
      gboolean complete = FALSE;

      if (companion_mirror_store_adopt_media_file (self->store, hash, &complete, NULL) && complete)
        state = COMPANION_MEDIA_STATE_COMPLETE;
    }
  record = companion_mirror_store_lookup (self->store, COMPANION_ENTITY_MEDIA, hash, error);
  if (record == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN,
                     "The mirror has no media “%s”", hash);
      return NULL;
    }

  active = g_new0 (Active, 1);
  active->fd = -1;
  active->hash = g_strdup (hash);
  companion_media_hash_to_raw (hash, active->raw);
  active->size = (guint64) companion_json_get_int (record, "size", 0);
  active->partial_path = partial_path (self, hash);
  if (state == COMPANION_MEDIA_STATE_COMPLETE)
    {
      active->received = active->size;
      return active;
    }
  /* Resume from what is both recorded and on disk. */
  if (state == COMPANION_MEDIA_STATE_PARTIAL && g_stat (active->partial_path, &st) == 0)
    received = MIN (received, (guint64) st.st_size);
  else
    received = 0;
  received = MIN (received, active->size);

  /* Readable too: after a restart its bytes are hashed again. */
  active->fd = g_open (active->partial_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (active->fd < 0 ||
      ftruncate (active->fd, (off_t) received) != 0 ||
      lseek (active->fd, (off_t) received, SEEK_SET) < 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_IO,
                   "Cannot write “%s”: %s", active->partial_path, g_strerror (saved));
      active_free (active);
      return NULL;
    }
  active->received = received;
  active->recorded = received;
  saved = g_hash_table_lookup (self->saved, hash);
  if (received == 0)
    active->hashing = hash_state_new ();
  else if (saved != NULL && saved->offset == received)
    active->hashing = g_steal_pointer (&saved->state);
  g_hash_table_remove (self->saved, hash);
  return active;
}

/* Asks the phone for the rest of the active media; FALSE when not connected
 * after all, and it waits for the next connection. */
static gboolean
request_active (CompanionMediaTransfer *self)
{
  g_autoptr(GError) error = NULL;

  if (send_request (self, self->active, &error))
    return TRUE;
  g_debug ("Could not request media %s: %s", self->active->hash, error->message);
  suspend (self);
  return FALSE;
}

/* ---- hashing a partial file again after a restart ------------------------------- */

typedef struct
{
  int                       fd;      /* a duplicate: the transfer may close its own meanwhile */
  guint64                   length;
  crypto_generichash_state *state;
} Rehash;

static void
rehash_free (Rehash *rehash)
{
  if (rehash->fd >= 0)
    close (rehash->fd);
  g_clear_pointer (&rehash->state, g_aligned_free);
  g_free (rehash);
}

static void
rehash_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Rehash *rehash = task_data;
  g_autofree guint8 *buffer = g_malloc (REHASH_BLOCK);
  guint64 done = 0;

  while (done < rehash->length)
    {
      gsize n = (gsize) MIN ((guint64) REHASH_BLOCK, rehash->length - done);
      GError *error = NULL;

      if (g_task_return_error_if_cancelled (task))
        return;
      if (!companion_media_read_chunk (rehash->fd, buffer, n, done, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      crypto_generichash_update (rehash->state, buffer, n);
      done += n;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_rehashed (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(CompanionMediaTransfer) self = g_weak_ref_get (weak);
  GTask *task = G_TASK (result);
  Rehash *rehash = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  Active *active;

  g_weak_ref_clear (weak);
  g_free (weak);
  if (self == NULL || self->active == NULL || self->active->preparing != task)
    return; /* given up meanwhile (a disconnect) */
  active = self->active;
  active->preparing = NULL;
  if (g_task_propagate_boolean (task, &error))
    active->hashing = g_steal_pointer (&rehash->state);
  else
    {
      /* Bytes that cannot be read back cannot be verified: fetch them again. */
      g_warning ("Cannot read the partial media %s again, fetching all of it: %s",
                 active->hash, error->message);
      if (ftruncate (active->fd, 0) != 0 || lseek (active->fd, 0, SEEK_SET) < 0)
        {
          int saved = errno;

          fail_active (self, TRUE,
                       g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_IO,
                                    "Cannot write “%s”: %s", active->partial_path, g_strerror (saved)));
          return;
        }
      active->received = 0;
      record_progress (self, active);
      active->hashing = hash_state_new ();
    }
  request_active (self);
}

/* Hashes what an earlier run received of ACTIVE on a worker thread, then
 * asks for the rest: its bytes are verified with the others at the end. */
static void
start_rehash (CompanionMediaTransfer *self,
              Active                 *active)
{
  Rehash *rehash = g_new0 (Rehash, 1);
  GWeakRef *weak = g_new (GWeakRef, 1);
  g_autoptr(GTask) task = NULL;

  rehash->fd = fcntl (active->fd, F_DUPFD_CLOEXEC, 0);
  rehash->length = active->received;
  rehash->state = hash_state_new ();
  g_weak_ref_init (weak, self);
  active->cancellable = g_cancellable_new ();
  task = g_task_new (NULL, active->cancellable, on_rehashed, weak);
  g_task_set_source_tag (task, start_rehash);
  g_task_set_task_data (task, rehash, (GDestroyNotify) rehash_free);
  active->preparing = task;
  g_task_run_in_thread (task, rehash_thread);
}

static void
pump (CompanionMediaTransfer *self)
{
  while (self->active == NULL && !g_queue_is_empty (&self->queue) &&
         companion_desktop_server_is_connected (self->server))
    {
      g_autofree char *hash = g_queue_pop_head (&self->queue);
      g_autoptr(GError) error = NULL;
      Active *active = begin (self, hash, &error);

      if (active == NULL)
        {
          g_hash_table_remove (self->wanted, hash);
          g_debug ("Not fetching media %s: %s", hash, error->message);
          continue;
        }
      if (active->received == active->size && active->fd < 0)
        {
          /* Complete meanwhile. */
          g_hash_table_remove (self->wanted, hash);
          active_free (active);
          g_signal_emit (self, signals[SIGNAL_COMPLETE], 0, hash);
          continue;
        }
      self->active = active;
      if (active->hashing == NULL)
        start_rehash (self, active);
      else if (!request_active (self))
        return;
    }
}

/* Queues every partial media, and with ABSENT_TOO absent media up to the
 * limit, smallest first. Reads the mirror's media table through a read-only
 * connection: the store has no listing of media by state. */
static void
scan_wanted (CompanionMediaTransfer *self,
             gboolean                absent_too)
{
  g_autofree char *path = g_build_filename (companion_mirror_store_get_state_dir (self->store),
                                            COMPANION_MIRROR_STORE_FILENAME, NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_busy_timeout (db, 2000);
      rc = sqlite3_prepare_v2 (db,
                               "SELECT hash FROM media WHERE state = ?1 OR "
                               "(state = ?2 AND size <= ?3) ORDER BY state DESC, size, hash",
                               -1, &stmt, NULL);
    }
  if (rc != SQLITE_OK)
    {
      g_warning ("Cannot list the media to fetch: %s", db != NULL ? sqlite3_errmsg (db) : "out of memory");
      sqlite3_finalize (stmt);
      sqlite3_close (db);
      return;
    }
  sqlite3_bind_int (stmt, 1, COMPANION_MEDIA_STATE_PARTIAL);
  sqlite3_bind_int (stmt, 2, COMPANION_MEDIA_STATE_ABSENT);
  sqlite3_bind_int64 (stmt, 3, absent_too ? (sqlite3_int64) MIN (self->auto_limit, (guint64) G_MAXINT64) : 0);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *hash = (const char *) sqlite3_column_text (stmt, 0);

      if (!companion_media_hash_to_raw (hash, NULL) ||
          g_hash_table_contains (self->wanted, hash) ||
          g_hash_table_contains (self->failed, hash))
        continue;
      g_hash_table_add (self->wanted, g_strdup (hash));
      g_queue_push_tail (&self->queue, g_strdup (hash));
    }
  if (rc != SQLITE_DONE)
    g_warning ("Cannot list the media to fetch: %s", sqlite3_errmsg (db));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

static gboolean
on_idle (gpointer user_data)
{
  CompanionMediaTransfer *self = user_data;

  self->idle_id = 0;
  if (self->scan != SCAN_NONE)
    {
      gboolean absent_too = self->scan == SCAN_ALL;

      self->scan = SCAN_NONE;
      scan_wanted (self, absent_too);
    }
  pump (self);
  return G_SOURCE_REMOVE;
}

static void
schedule (CompanionMediaTransfer *self)
{
  if (self->idle_id == 0)
    self->idle_id = g_idle_add (on_idle, self);
}

/* ---- from the phone -------------------------------------------------------------- */

/* The big-endian offset after the hash in a chunk header. */
static guint64
header_offset (const guint8 *header)
{
  guint64 offset = 0;

  for (guint i = 0; i < 8; i++)
    offset = offset << 8 | header[HASH_LEN + i];
  return offset;
}

CompanionMediaChunkVerdict
companion_media_chunk_judge (const CompanionMediaChunkExpectation *expect,
                             const guint8                         *header,
                             gsize                                 header_len,
                             gsize                                 data_len,
                             guint64                              *offset_out)
{
  guint64 offset = 0;

  if (header_len != COMPANION_MEDIA_CHUNK_HEADER_LEN || memcmp (header, expect->hash, HASH_LEN) != 0)
    return COMPANION_MEDIA_CHUNK_IGNORE;
  offset = header_offset (header);
  if (offset_out != NULL)
    *offset_out = offset;
  /* What the phone sent of an earlier, cancelled request of the same media
   * comes before anything of this one. */
  if (!expect->answered && offset != expect->requested_at)
    return COMPANION_MEDIA_CHUNK_IGNORE;
  if (offset != expect->received)
    return COMPANION_MEDIA_CHUNK_OUT_OF_ORDER;
  if (data_len > expect->size - expect->received)
    return COMPANION_MEDIA_CHUNK_TOO_LONG;
  return COMPANION_MEDIA_CHUNK_ACCEPT;
}

static void
on_chunk (CompanionDesktopServer *server,
          GBytes                 *header,
          GBytes                 *data,
          CompanionMediaTransfer *self)
{
  Active *active = self->active;
  gsize len = g_bytes_get_size (data);
  gsize header_len = 0;
  const guint8 *h = g_bytes_get_data (header, &header_len);
  CompanionMediaChunkExpectation expect;
  CompanionMediaChunkVerdict verdict;
  guint64 offset = 0;

  if (active == NULL || active->fd < 0 || active->hashing == NULL)
    return; /* left over from a transfer that ended, or not asked for yet */
  expect = (CompanionMediaChunkExpectation) { active->raw, active->size, active->requested_at,
                                              active->answered, active->received };
  verdict = companion_media_chunk_judge (&expect, h, header_len, len, &offset);
  if (verdict == COMPANION_MEDIA_CHUNK_IGNORE)
    {
      g_debug ("Ignoring a chunk (%" G_GSIZE_FORMAT "-byte header) of no request under way",
               header_len);
      return;
    }
  active->answered = TRUE;
  if (writer_failed (self))
    {
      settle (self, active);
      fail_active (self, FALSE, g_steal_pointer (&active->write_error));
      return;
    }

  if (verdict == COMPANION_MEDIA_CHUNK_OUT_OF_ORDER)
    {
      fail_active (self, FALSE,
                   g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_PROTOCOL,
                                "The phone sent media “%s” at offset %" G_GUINT64_FORMAT
                                " where %" G_GUINT64_FORMAT " was due",
                                active->hash, offset, active->received));
      return;
    }
  if (verdict == COMPANION_MEDIA_CHUNK_TOO_LONG)
    {
      fail_active (self, TRUE,
                   g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH,
                                "The phone sent more of media “%s” than its %" G_GUINT64_FORMAT
                                " bytes; nothing of it was kept", active->hash, active->size));
      return;
    }
  writer_push (self, active, data);
  active->received += len;
  if (++active->since_ack >= COMPANION_MEDIA_ACK_EVERY || active->received == active->size)
    {
      send_ack (self, active);
      if (active->received - active->recorded >= PROGRESS_RECORD_BYTES)
        {
          /* Only what is written and hashed counts as progress. */
          settle (self, active);
          if (active->write_error != NULL)
            {
              fail_active (self, FALSE, g_steal_pointer (&active->write_error));
              return;
            }
          /* Writing back as it comes leaves the fsync at the end little to
           * do; this only starts the writes, it does not wait for them. */
          if (sync_file_range (active->fd, (off64_t) active->recorded,
                               (off64_t) (active->received - active->recorded),
                               SYNC_FILE_RANGE_WRITE) != 0)
            g_debug ("Cannot write back %s: %s", active->partial_path, g_strerror (errno));
          record_progress (self, active);
        }
      g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, active->hash, active->received, active->size);
    }
}

/* ---- keeping a verified file ---------------------------------------------------- */

typedef struct
{
  CompanionMirrorStore *store;
  char                 *hash;
  char                 *path;
  guint8                digest[HASH_LEN];
} Keep;

static void
keep_free (Keep *keep)
{
  g_clear_object (&keep->store);
  g_free (keep->hash);
  g_free (keep->path);
  g_free (keep);
}

/* Flushing a large file takes as long as the disk needs: not on the main loop. */
static void
keep_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Keep *keep = task_data;
  GError *error = NULL;

  if (companion_mirror_store_keep_media_file (keep->store, keep->hash, keep->path, keep->digest, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
on_kept (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(CompanionMediaTransfer) self = user_data;
  Keep *keep = g_task_get_task_data (G_TASK (result));
  Active *active = self->active;
  g_autoptr(GError) error = NULL;
  g_autofree char *done_hash = NULL;
  gboolean complete = FALSE;

  /* Released here, not when the task goes, which may be on the worker. */
  g_clear_object (&keep->store);
  if (active == NULL || !active->finishing)
    return;
  if (!g_task_propagate_boolean (G_TASK (result), &error) ||
      !companion_mirror_store_adopt_media_file (self->store, active->hash, &complete, &error) ||
      !complete)
    {
      gboolean mismatch = error == NULL ||
                          g_error_matches (error, COMPANION_MIRROR_STORE_ERROR,
                                           COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH);

      fail_active (self, TRUE,
                   g_error_new (COMPANION_MEDIA_TRANSFER_ERROR,
                                mismatch ? COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH
                                         : COMPANION_MEDIA_TRANSFER_ERROR_IO,
                                "Media “%s” from the phone was not kept: %s", active->hash,
                                error != NULL ? error->message : "its size is not its record’s"));
      return;
    }

  active = g_steal_pointer (&self->active);
  done_hash = g_strdup (active->hash);
  g_hash_table_remove (self->wanted, done_hash);
  if (active->requested_at == active->size)
    g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, done_hash, active->size, active->size);
  active_free (active);
  g_signal_emit (self, signals[SIGNAL_COMPLETE], 0, done_hash);
  schedule (self);
}

static void
on_media_end (CompanionDesktopServer *server,
              const char             *type,
              JsonObject             *record,
              CompanionMediaTransfer *self)
{
  Active *active = self->active;
  const char *hash = companion_json_get_string (record, "hash");
  gint64 size = companion_json_get_int (record, "size", -1);
  g_autoptr(GTask) task = NULL;
  Keep *keep;

  if (active == NULL || active->fd < 0 || active->hashing == NULL || g_strcmp0 (hash, active->hash) != 0)
    return;
  if (!active->answered && active->requested_at != active->size)
    return; /* the end of an earlier, cancelled request */
  active->answered = TRUE;
  settle (self, active);
  if (active->write_error != NULL)
    {
      fail_active (self, FALSE, g_steal_pointer (&active->write_error));
      return;
    }
  send_ack (self, active);
  close (active->fd);
  active->fd = -1;

  if (size < 0 || (guint64) size != active->size || active->received != active->size)
    {
      fail_active (self, TRUE,
                   g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH,
                                "Media “%s” came with %" G_GUINT64_FORMAT " bytes (the phone says %"
                                G_GINT64_FORMAT "), not the %" G_GUINT64_FORMAT " its record says; "
                                "nothing of it was kept",
                                active->hash, active->received, size, active->size));
      return;
    }

  /* Every byte was hashed as it was written: the partial file becomes the
   * media file by a rename once its hash is checked. */
  keep = g_new0 (Keep, 1);
  keep->store = g_object_ref (self->store);
  keep->hash = g_strdup (active->hash);
  keep->path = g_strdup (active->partial_path);
  crypto_generichash_final (active->hashing, keep->digest, HASH_LEN);
  g_clear_pointer (&active->hashing, g_aligned_free);
  active->finishing = TRUE;
  /* GTask may drop its last reference on the worker thread: it holds no
   * object, so self and the store end on this thread. */
  task = g_task_new (NULL, NULL, on_kept, g_object_ref (self));
  g_task_set_source_tag (task, on_media_end);
  g_task_set_task_data (task, keep, (GDestroyNotify) keep_free);
  g_task_run_in_thread (task, keep_thread);
}

static void
on_media_error (CompanionDesktopServer *server,
                const char             *type,
                JsonObject             *record,
                CompanionMediaTransfer *self)
{
  Active *active = self->active;
  const char *hash = companion_json_get_string (record, "hash");
  const char *code = companion_json_get_string_or (record, "code", "");
  const char *message = companion_json_get_string_or (record, "message", "");

  if (active == NULL || active->finishing || g_strcmp0 (hash, active->hash) != 0)
    return;

  settle (self, active);
  /* The phone's file is shorter than what we have: start over once. */
  if (g_str_equal (code, "bad-offset") && active->requested_at > 0 && !active->retried &&
      active->fd >= 0)
    {
      g_autoptr(GError) error = NULL;

      active->retried = TRUE;
      active->received = 0;
      if (ftruncate (active->fd, 0) == 0 && lseek (active->fd, 0, SEEK_SET) == 0)
        {
          g_clear_pointer (&active->hashing, g_aligned_free);
          active->hashing = hash_state_new ();
          record_progress (self, active);
          if (send_request (self, active, &error))
            return;
        }
    }
  /* The phone has dropped it already: no cancel. */
  if (active->fd >= 0)
    {
      close (active->fd);
      active->fd = -1;
    }
  fail_active (self, TRUE,
               g_error_new (COMPANION_MEDIA_TRANSFER_ERROR,
                            g_str_equal (code, "unknown") ? COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN
                                                          : COMPANION_MEDIA_TRANSFER_ERROR_PROTOCOL,
                            "The phone could not send media “%s”: %s%s%s", active->hash,
                            g_str_equal (code, "unknown") ? "it has no such file" : code,
                            *message ? " — " : "", message));
}

static void
on_connected (CompanionMediaTransfer *self)
{
  /* Resume what was under way; the rest waits for sync. */
  self->scan = MAX (self->scan, SCAN_PARTIAL);
  schedule (self);
}

static void
on_disconnected (CompanionMediaTransfer *self)
{
  /* Kept on disk and in the mirror: the next connection asks from here. A
   * file being kept needs the phone no more. */
  if (self->active != NULL && !self->active->finishing)
    suspend (self);
}

static void
on_synced (CompanionMediaTransfer *self)
{
  self->scan = SCAN_ALL;
  schedule (self);
}

/* ---- public ---------------------------------------------------------------------- */

gboolean
companion_media_hash_to_raw (const char *hash,
                             guint8     *raw)
{
  if (!companion_record_id_is_valid (COMPANION_ENTITY_MEDIA, hash))
    return FALSE;
  if (raw != NULL)
    for (guint i = 0; i < HASH_LEN; i++)
      raw[i] = (guint8) (g_ascii_xdigit_value (hash[2 * i]) << 4 | g_ascii_xdigit_value (hash[2 * i + 1]));
  return TRUE;
}

void
companion_media_chunk_header (guint8       *header,
                              const guint8 *raw,
                              guint64       offset)
{
  memcpy (header, raw, HASH_LEN);
  for (guint i = 0; i < 8; i++)
    header[HASH_LEN + i] = (guint8) (offset >> (56 - 8 * i));
}

gboolean
companion_media_chunk_parse (GBytes  *header,
                             guint8  *raw_out,
                             guint64 *offset_out)
{
  gsize len = 0;
  const guint8 *h = g_bytes_get_data (header, &len);

  if (len != COMPANION_MEDIA_CHUNK_HEADER_LEN)
    return FALSE;
  memcpy (raw_out, h, HASH_LEN);
  *offset_out = header_offset (h);
  return TRUE;
}

gboolean
companion_media_read_chunk (int      fd,
                            guint8  *buffer,
                            gsize    len,
                            guint64  offset,
                            GError **error)
{
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = pread (fd, buffer + got, len - got, (off_t) (offset + got));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_IO,
                       "Cannot read the file at offset %" G_GUINT64_FORMAT ": %s", offset + got,
                       n < 0 ? g_strerror (errno) : "it is shorter than it was");
          return FALSE;
        }
      got += (gsize) n;
    }
  return TRUE;
}

gboolean
companion_media_write_chunk (int           fd,
                             const guint8 *data,
                             gsize         len,
                             const char   *path,
                             GError      **error)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t w = write (fd, data + done, len - done);

      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          int saved = errno;

          g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_IO,
                       "Cannot write “%s”: %s", path, g_strerror (saved));
          return FALSE;
        }
      done += (gsize) w;
    }
  return TRUE;
}

gboolean
companion_media_transfer_request (CompanionMediaTransfer *self,
                                  const char             *hash,
                                  GError                **error)
{
  CompanionMediaState state;

  g_return_val_if_fail (COMPANION_IS_MEDIA_TRANSFER (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);

  if (!companion_media_hash_to_raw (hash, NULL))
    {
      g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN,
                   "“%s” is not a media hash (64 lowercase hex digits)", hash);
      return FALSE;
    }
  if (!companion_mirror_store_get_media_state (self->store, hash, &state, NULL, NULL))
    {
      g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN,
                   "The mirror has no media “%s”", hash);
      return FALSE;
    }
  g_hash_table_remove (self->failed, hash);
  if (state == COMPANION_MEDIA_STATE_COMPLETE)
    {
      g_signal_emit (self, signals[SIGNAL_COMPLETE], 0, hash);
      return TRUE;
    }
  if (!g_hash_table_contains (self->wanted, hash))
    {
      g_hash_table_add (self->wanted, g_strdup (hash));
      g_queue_push_head (&self->queue, g_strdup (hash));
    }
  else if (self->active == NULL || !g_str_equal (self->active->hash, hash))
    {
      /* Already queued: move it to the front. */
      GList *link = g_queue_find_custom (&self->queue, hash, (GCompareFunc) g_strcmp0);

      if (link != NULL)
        {
          char *owned = link->data;

          g_queue_delete_link (&self->queue, link);
          g_queue_push_head (&self->queue, owned);
        }
    }
  schedule (self);
  return TRUE;
}

void
companion_media_transfer_set_auto_download_limit (CompanionMediaTransfer *self,
                                                  guint64                 limit)
{
  g_return_if_fail (COMPANION_IS_MEDIA_TRANSFER (self));

  if (self->auto_limit == limit)
    return;
  self->auto_limit = limit;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTO_DOWNLOAD_LIMIT]);
}

guint64
companion_media_transfer_get_auto_download_limit (CompanionMediaTransfer *self)
{
  g_return_val_if_fail (COMPANION_IS_MEDIA_TRANSFER (self), 0);
  return self->auto_limit;
}

guint
companion_media_transfer_get_pending (CompanionMediaTransfer *self)
{
  g_return_val_if_fail (COMPANION_IS_MEDIA_TRANSFER (self), 0);
  return g_hash_table_size (self->wanted);
}

static void
companion_media_transfer_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  CompanionMediaTransfer *self = COMPANION_MEDIA_TRANSFER (object);

  switch (prop_id)
    {
    case PROP_AUTO_DOWNLOAD_LIMIT:
      g_value_set_uint64 (value, self->auto_limit);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_media_transfer_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  CompanionMediaTransfer *self = COMPANION_MEDIA_TRANSFER (object);

  switch (prop_id)
    {
    case PROP_AUTO_DOWNLOAD_LIMIT:
      companion_media_transfer_set_auto_download_limit (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_media_transfer_dispose (GObject *object)
{
  CompanionMediaTransfer *self = COMPANION_MEDIA_TRANSFER (object);

  g_clear_handle_id (&self->idle_id, g_source_remove);
  if (self->active != NULL)
    {
      settle (self, self->active);
      if (!self->active->finishing)
        record_progress (self, self->active);
      g_clear_pointer (&self->active, active_free);
    }
  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  g_clear_object (&self->server);
  g_clear_object (&self->store);
  g_queue_clear_full (&self->queue, g_free);

  G_OBJECT_CLASS (companion_media_transfer_parent_class)->dispose (object);
}

static void
companion_media_transfer_finalize (GObject *object)
{
  CompanionMediaTransfer *self = COMPANION_MEDIA_TRANSFER (object);

  g_clear_pointer (&self->wanted, g_hash_table_unref);
  g_clear_pointer (&self->failed, g_hash_table_unref);
  g_clear_pointer (&self->saved, g_hash_table_unref);
  if (self->writer.thread != NULL)
    {
      g_mutex_lock (&self->writer.lock);
      self->writer.quit = TRUE;
      g_cond_broadcast (&self->writer.cond);
      g_mutex_unlock (&self->writer.lock);
      g_thread_join (self->writer.thread);
    }
  g_clear_error (&self->writer.error);
  g_mutex_clear (&self->writer.lock);
  g_cond_clear (&self->writer.cond);

  G_OBJECT_CLASS (companion_media_transfer_parent_class)->finalize (object);
}

static void
companion_media_transfer_class_init (CompanionMediaTransferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->get_property = companion_media_transfer_get_property;
  object_class->set_property = companion_media_transfer_set_property;
  object_class->dispose = companion_media_transfer_dispose;
  object_class->finalize = companion_media_transfer_finalize;

  properties[PROP_AUTO_DOWNLOAD_LIMIT] =
    g_param_spec_uint64 ("auto-download-limit", NULL, NULL, 0, G_MAXUINT64,
                         COMPANION_MEDIA_AUTO_DOWNLOAD_DEFAULT,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT64);
  signals[SIGNAL_COMPLETE] = g_signal_new ("complete", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
}

static void
companion_media_transfer_init (CompanionMediaTransfer *self)
{
  self->auto_limit = COMPANION_MEDIA_AUTO_DOWNLOAD_DEFAULT;
  g_queue_init (&self->queue);
  g_mutex_init (&self->writer.lock);
  g_cond_init (&self->writer.cond);
  g_queue_init (&self->writer.jobs);
  self->wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->saved = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) saved_hash_free);
}

CompanionMediaTransfer *
companion_media_transfer_new (CompanionDesktopServer *server,
                              CompanionMirrorStore   *store,
                              CompanionDesktopSync   *sync)
{
  CompanionMediaTransfer *self;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);
  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (store), NULL);
  g_return_val_if_fail (sync == NULL || COMPANION_IS_DESKTOP_SYNC (sync), NULL);

  self = g_object_new (COMPANION_TYPE_MEDIA_TRANSFER, NULL);
  self->server = g_object_ref (server);
  self->store = g_object_ref (store);
  g_signal_connect (server, "session-chunk", G_CALLBACK (on_chunk), self);
  g_signal_connect (server, "session-record::media-end", G_CALLBACK (on_media_end), self);
  g_signal_connect (server, "session-record::media-error", G_CALLBACK (on_media_error), self);
  g_signal_connect_swapped (server, "connected", G_CALLBACK (on_connected), self);
  g_signal_connect_swapped (server, "disconnected", G_CALLBACK (on_disconnected), self);
  if (sync != NULL)
    g_signal_connect_object (sync, "synced", G_CALLBACK (on_synced), self, G_CONNECT_SWAPPED);
  return self;
}
