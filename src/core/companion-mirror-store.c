/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-mirror-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-mirror-store.h"
#include "companion-state-dir.h"

#define HASH_SIZE           32 /* BLAKE2b-256 */
#define MAX_PROGRESS_SIZE   (64 * 1024)
#define MAX_COMMAND_SIZE    (1024 * 1024)
#define MAX_ID_LENGTH       64
#define BUSY_TIMEOUT_MS     5000
#define JOURNAL_SIZE_LIMIT  "67108864" /* 64 MiB */
#define COPY_CHUNK          (64 * 1024)
/* The page size of a new mirror: a first sync of a million messages loads
 * 15–20 % faster than with SQLite's 4 KiB (fewer pages to split, log and
 * copy back; measured with the mirror's schema). Existing mirrors keep
 * theirs: a database in WAL mode cannot change it. */
#define PAGE_SIZE           "PRAGMA page_size = 8192"
/* The page cache while a snapshot loads (KiB): index inserts all over a large
 * table re-read pages that the default 2 MiB cannot keep. And a longer
 * write-ahead log between checkpoints (pages; 128 MiB at 8 KiB): an index
 * page that several commits rewrote is copied back to the database once,
 * not after each. Both back to the defaults once the snapshot is finished. */
#define SNAPSHOT_CACHE      "PRAGMA cache_size = -65536"
#define DEFAULT_CACHE       "PRAGMA cache_size = -2000"
#define SNAPSHOT_CHECKPOINT "PRAGMA wal_autocheckpoint = 16384"
#define DEFAULT_CHECKPOINT  "PRAGMA wal_autocheckpoint = 1000"

/* Schema migrations: migrations[N - 1] takes the database from user_version
 * N - 1 to N, in one transaction with the new user_version. A released
 * migration is never edited; a new schema is one more entry (and
 * COMPANION_MIRROR_STORE_SCHEMA_VERSION + 1). The records' canonical JSON is
 * kept beside the typed columns so the export is exact. */
static const char migration_1[] =
  "CREATE TABLE contacts ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  name TEXT NOT NULL,"
  "  phone TEXT,"
  "  json TEXT NOT NULL"
  ") WITHOUT ROWID;"

  "CREATE TABLE chats ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  title TEXT NOT NULL,"
  "  unread INTEGER NOT NULL,"
  "  pinned INTEGER NOT NULL,"
  "  muted INTEGER NOT NULL,"
  "  archived INTEGER NOT NULL,"
  "  participants TEXT NOT NULL," /* JSON array of contact ids */
  "  last_message_time INTEGER,"  /* the newest message that is not deleted */
  "  last_message_preview TEXT,"
  "  json TEXT NOT NULL"
  ");"
  "CREATE INDEX chats_list ON chats (pinned DESC, last_message_time DESC, id);"
  "CREATE TABLE chat_participants ("
  "  chat TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,"
  "  contact TEXT NOT NULL REFERENCES contacts (id),"
  "  PRIMARY KEY (chat, contact)"
  ") WITHOUT ROWID;"
  "CREATE INDEX chat_participants_contact ON chat_participants (contact);"

  "CREATE TABLE media ("
  "  hash TEXT PRIMARY KEY NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  mime TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  size INTEGER NOT NULL,"
  "  width INTEGER,"
  "  height INTEGER,"
  "  duration_ms INTEGER,"
  "  json TEXT NOT NULL,"
  "  state INTEGER NOT NULL DEFAULT 0," /* CompanionMediaState */
  "  bytes_received INTEGER NOT NULL DEFAULT 0,"
  "  path TEXT"                         /* relative to the state folder */
  ");"

  /* num is the stable rowid the full-text index refers to. */
  "CREATE TABLE messages ("
  "  num INTEGER PRIMARY KEY,"
  "  id TEXT NOT NULL UNIQUE,"
  "  chat TEXT NOT NULL REFERENCES chats (id),"
  "  sender TEXT REFERENCES contacts (id),"
  "  outgoing INTEGER NOT NULL,"
  "  time INTEGER NOT NULL,"
  "  text TEXT NOT NULL,"
  "  media TEXT REFERENCES media (hash),"
  "  reply_to TEXT,"
  "  status TEXT,"
  "  edited_at INTEGER,"
  "  deleted INTEGER NOT NULL,"
  "  reactions TEXT," /* JSON object */
  "  json TEXT NOT NULL"
  ");"
  "CREATE INDEX messages_chat_time ON messages (chat, time DESC, id DESC);"
  "CREATE INDEX messages_sender ON messages (sender) WHERE sender IS NOT NULL;"
  "CREATE INDEX messages_media ON messages (media) WHERE media IS NOT NULL;"
  "CREATE VIRTUAL TABLE messages_fts USING fts5 ("
  "  text, content='messages', content_rowid='num',"
  "  tokenize='unicode61 remove_diacritics 2'"
  ");"
  /* Messages of snapshot pages, indexed in bulk by finish_snapshot. */
  "CREATE TABLE fts_pending (num INTEGER PRIMARY KEY);"

  "CREATE TABLE calls ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  direction TEXT NOT NULL,"
  "  missed INTEGER NOT NULL,"
  "  time INTEGER NOT NULL,"
  "  duration_s INTEGER NOT NULL,"
  "  participants TEXT NOT NULL,"
  "  json TEXT NOT NULL"
  ");"
  "CREATE INDEX calls_time ON calls (time DESC, id DESC);"
  "CREATE TABLE call_participants ("
  "  call TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,"
  "  contact TEXT NOT NULL REFERENCES contacts (id),"
  "  PRIMARY KEY (call, contact)"
  ") WITHOUT ROWID;"
  "CREATE INDEX call_participants_contact ON call_participants (contact);"

  "CREATE TABLE sync_state ("
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  cursor INTEGER NOT NULL DEFAULT 0,"
  "  snapshot_progress TEXT,"
  "  last_sync INTEGER NOT NULL DEFAULT 0"
  ");"
  "INSERT INTO sync_state (id) VALUES (1);"

  "CREATE TABLE outbox ("
  "  client_id TEXT PRIMARY KEY NOT NULL,"
  "  command TEXT NOT NULL,"
  "  created INTEGER NOT NULL,"
  "  attempts INTEGER NOT NULL DEFAULT 0"
  ");";

/* The secondary indexes of messages, as migration_1 creates them. A first
 * sync into an empty mirror loads without them and builds each once at its
 * end (from sorted keys), instead of inserting a million keys all over
 * indexes larger than the page cache. Reset builds them again (the mirror
 * is empty then), so a sync killed midway leaves nothing missing behind. */
static const char * const message_indexes[] = {
  "CREATE INDEX IF NOT EXISTS messages_chat_time ON messages (chat, time DESC, id DESC)",
  "CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender) WHERE sender IS NOT NULL",
  "CREATE INDEX IF NOT EXISTS messages_media ON messages (media) WHERE media IS NOT NULL",
  /* FTS5's default. */
  "INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 4)",
};
/* While history loads, the full-text index also merges its segments less
 * often: each commit adds one, and merging at every fourth rewrites the
 * index again and again (−0.7 s of 10 s for a million messages). */
static const char * const drop_message_indexes[] = {
  "DROP INDEX IF EXISTS messages_chat_time",
  "DROP INDEX IF EXISTS messages_sender",
  "DROP INDEX IF EXISTS messages_media",
  "INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 16)",
};
G_STATIC_ASSERT (G_N_ELEMENTS (message_indexes) == G_N_ELEMENTS (drop_message_indexes));

static const char * const migrations[] = {
  migration_1,
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == COMPANION_MIRROR_STORE_SCHEMA_VERSION);

/* Per entity: its table and key column are fixed here, never taken from input. */
static const char * const count_sql[COMPANION_N_ENTITIES] = {
  "SELECT count(*) FROM contacts",
  "SELECT count(*) FROM chats",
  "SELECT count(*) FROM messages",
  "SELECT count(*) FROM media",
  "SELECT count(*) FROM calls",
};
static const char * const lookup_sql[COMPANION_N_ENTITIES] = {
  "SELECT json FROM contacts WHERE id = ?1",
  "SELECT json FROM chats WHERE id = ?1",
  "SELECT json FROM messages WHERE id = ?1",
  "SELECT json FROM media WHERE hash = ?1",
  "SELECT json FROM calls WHERE id = ?1",
};
static const char * const export_sql[COMPANION_N_ENTITIES] = {
  "SELECT json FROM contacts ORDER BY id",
  "SELECT json FROM chats ORDER BY id",
  "SELECT json FROM messages ORDER BY id",
  "SELECT json FROM media ORDER BY hash",
  "SELECT json FROM calls ORDER BY id",
};

struct _CompanionMirrorStore
{
  GObject     parent_instance;

  char       *state_dir;
  char       *db_path;
  char       *media_dir;
  sqlite3    *db;
  GHashTable *statements; /* SQL constant → sqlite3_stmt *, prepared once */
  gboolean    index_pages; /* snapshot pages are searchable once committed */
};

enum {
  PROP_0,
  PROP_STATE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CompanionMirrorStore, companion_mirror_store, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-mirror-store-error-quark, companion_mirror_store_error)

/* A statement in use: reset (and its bindings cleared) when it goes out of scope. */
static void
statement_release (sqlite3_stmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

typedef sqlite3_stmt Statement;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Statement, statement_release)

/* A chat's newest new message in a snapshot batch (by time, then id, as
 * the chat list orders them). */
typedef struct
{
  gint64  time;
  char   *id;
  gint64  num;
} NewestMessage;

static void
newest_message_free (NewestMessage *newest)
{
  g_free (newest->id);
  g_free (newest);
}

/* What one write transaction collected for after its commit. */
typedef struct
{
  GHashTable *touched_chats; /* chat ids whose last message may have changed */
  GHashTable *newer_chats;   /* bulk: chat id → NewestMessage among its new ones */
  GPtrArray  *unlink_files;  /* media files of deleted media records */
  gboolean    bulk;          /* a snapshot page: index messages later */
  /* Bulk, when the pages are searchable at their commit: the first message
   * row this transaction added (0 for none; every row from it on is new and
   * indexed at the commit by range), and older rows it changed. */
  gboolean    index_at_commit;
  gint64      first_new_num;
  GArray     *reindex;
  /* Bulk: ids found already in this transaction, which deletes nothing. */
  GHashTable *known_chats;
  GHashTable *known_contacts;
  GHashTable *known_media;
} Batch;

static Batch *
batch_new (gboolean bulk)
{
  Batch *batch = g_new0 (Batch, 1);

  batch->touched_chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  batch->newer_chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) newest_message_free);
  batch->unlink_files = g_ptr_array_new_with_free_func (g_free);
  batch->bulk = bulk;
  batch->known_chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  batch->known_contacts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  batch->known_media = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  batch->reindex = g_array_new (FALSE, FALSE, sizeof (gint64));
  return batch;
}

static void
batch_free (Batch *batch)
{
  g_hash_table_unref (batch->touched_chats);
  g_hash_table_unref (batch->newer_chats);
  g_ptr_array_unref (batch->unlink_files);
  g_hash_table_unref (batch->known_chats);
  g_hash_table_unref (batch->known_contacts);
  g_hash_table_unref (batch->known_media);
  g_array_unref (batch->reindex);
  g_free (batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Batch, batch_free)

/* Helpers */

static int
error_code_for_sqlite (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_FULL:
      return COMPANION_MIRROR_STORE_ERROR_FULL;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return COMPANION_MIRROR_STORE_ERROR_IO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return COMPANION_MIRROR_STORE_ERROR_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return COMPANION_MIRROR_STORE_ERROR_BUSY;
    default:
      return COMPANION_MIRROR_STORE_ERROR_FAILED;
    }
}

static void
set_sqlite_error (CompanionMirrorStore  *self,
                  GError               **error,
                  int                    rc,
                  const char            *what)
{
  g_set_error (error, COMPANION_MIRROR_STORE_ERROR, error_code_for_sqlite (rc),
               "The mirror database “%s” failed to %s: %s",
               self->db_path, what,
               self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
}

/* The prepared statement for SQL (a constant of this file), reset. */
static sqlite3_stmt *
get_statement (CompanionMirrorStore  *self,
               const char            *sql,
               GError               **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->statements, sql);
  int rc;

  if (stmt != NULL)
    return stmt;

  rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, error, rc, "prepare a statement");
      return NULL;
    }
  g_hash_table_insert (self->statements, (gpointer) sql, stmt);
  return stmt;
}

/* Steps a statement that returns no row. */
static gboolean
step_done (CompanionMirrorStore  *self,
           sqlite3_stmt          *stmt,
           GError               **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    return TRUE;
  set_sqlite_error (self, error, rc, "write");
  return FALSE;
}

/* 1 for a row, 0 at the end, -1 with ERROR set. */
static int
step_row (CompanionMirrorStore  *self,
          sqlite3_stmt          *stmt,
          GError               **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  set_sqlite_error (self, error, rc, "read");
  return -1;
}

static void
bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

/* Runs constant SQL that takes no parameter. */
static gboolean
exec_static (CompanionMirrorStore  *self,
             const char            *sql,
             GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self, sql, error);

  return stmt != NULL && step_done (self, stmt, error);
}

static gboolean
begin_write (CompanionMirrorStore  *self,
             GError               **error)
{
  return exec_static (self, "BEGIN IMMEDIATE", error);
}

static gboolean
commit (CompanionMirrorStore  *self,
        GError               **error)
{
  return exec_static (self, "COMMIT", error);
}

static void
rollback (CompanionMirrorStore *self)
{
  g_autoptr(GError) local_error = NULL;

  /* SQLite may have rolled back already (a full disk, an I/O error). */
  if (sqlite3_get_autocommit (self->db))
    return;
  if (!exec_static (self, "ROLLBACK", &local_error))
    g_warning ("%s", local_error->message);
}

static JsonObject *
parse_object (CompanionMirrorStore  *self,
              const char            *text,
              GError               **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (text == NULL || !json_parser_load_from_data (parser, text, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_CORRUPT,
                   "The mirror database “%s” holds a record that is not a JSON object",
                   self->db_path);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static char *
canonical_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return companion_canonical_json (node, NULL);
}

static char *
canonical_member (JsonObject *object,
                  const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return companion_canonical_json (node, NULL);
}

/* Members of a validated record. */
static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return json_node_get_string (node);
}

static gboolean
member_has (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node);
}

static gint64
member_int (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return 0;
  return json_node_get_int (node);
}

static void
bind_optional_int (sqlite3_stmt *stmt,
                   int           index,
                   JsonObject   *object,
                   const char   *name)
{
  if (member_has (object, name))
    sqlite3_bind_int64 (stmt, index, member_int (object, name));
  else
    sqlite3_bind_null (stmt, index);
}

static gboolean
member_bool (JsonObject *object,
             const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return FALSE;
  return json_node_get_boolean (node);
}

static gboolean
is_hash (const char *text)
{
  if (text == NULL || strlen (text) != HASH_SIZE * 2)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static gboolean
is_id (const char *text)
{
  gsize len;

  if (text == NULL)
    return FALSE;
  len = strlen (text);
  if (len == 0 || len > MAX_ID_LENGTH)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static char *
media_path (CompanionMirrorStore *self,
            const char           *hash)
{
  return g_build_filename (self->media_dir, hash, NULL);
}

/* Whether a row with KEY answers SQL (one parameter). */
static int
row_exists (CompanionMirrorStore  *self,
            const char            *sql,
            const char            *key,
            GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self, sql, error);

  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, key);
  return step_row (self, stmt, error);
}

static gboolean
check_reference (CompanionMirrorStore  *self,
                 const char            *sql,
                 const char            *key,
                 const char            *what,
                 const char            *field,
                 GError               **error)
{
  int found = row_exists (self, sql, key, error);

  if (found < 0)
    return FALSE;
  if (found == 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                   COMPANION_MIRROR_STORE_ERROR_UNKNOWN_REFERENCE,
                   "“%s” names %s “%s” that the mirror does not have", field, what, key);
      return FALSE;
    }
  return TRUE;
}

/* The same for a snapshot's messages, which name the same few chats and
 * contacts again and again: each is looked up once per transaction. */
static gboolean
check_known_reference (CompanionMirrorStore  *self,
                       Batch                 *batch,
                       GHashTable            *known,
                       const char            *sql,
                       const char            *key,
                       const char            *what,
                       const char            *field,
                       GError               **error)
{
  if (batch->bulk && g_hash_table_contains (known, key))
    return TRUE;
  if (!check_reference (self, sql, key, what, field, error))
    return FALSE;
  if (batch->bulk)
    g_hash_table_add (known, g_strdup (key));
  return TRUE;
}

static gboolean
check_contacts (CompanionMirrorStore  *self,
                JsonObject            *record,
                const char            *field,
                GError               **error)
{
  JsonArray *array = json_object_get_array_member (record, field);
  guint n = json_array_get_length (array);

  for (guint i = 0; i < n; i++)
    if (!check_reference (self, "SELECT 1 FROM contacts WHERE id = ?1",
                          json_array_get_string_element (array, i), "a contact", field, error))
      return FALSE;
  return TRUE;
}

static gboolean
set_participants (CompanionMirrorStore  *self,
                  const char            *delete_sql,
                  const char            *insert_sql,
                  const char            *owner,
                  JsonArray             *participants,
                  GError               **error)
{
  g_autoptr(Statement) del = get_statement (self, delete_sql, error);
  guint n = json_array_get_length (participants);

  if (del == NULL)
    return FALSE;
  bind_text (del, 1, owner);
  if (!step_done (self, del, error))
    return FALSE;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(Statement) ins = get_statement (self, insert_sql, error);

      if (ins == NULL)
        return FALSE;
      bind_text (ins, 1, owner);
      bind_text (ins, 2, json_array_get_string_element (participants, i));
      if (!step_done (self, ins, error))
        return FALSE;
    }
  return TRUE;
}

/* Upserts */

static gboolean
upsert_contact (CompanionMirrorStore  *self,
                JsonObject            *record,
                const char            *json,
                GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self,
    "INSERT INTO contacts (id, name, phone, json) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone, "
    "json = excluded.json", error);

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, member_string (record, "id"));
  bind_text (stmt, 2, member_string (record, "name"));
  bind_text (stmt, 3, member_string (record, "phone"));
  bind_text (stmt, 4, json);
  return step_done (self, stmt, error);
}

static gboolean
upsert_chat (CompanionMirrorStore  *self,
             JsonObject            *record,
             const char            *json,
             GError               **error)
{
  const char *id = member_string (record, "id");
  g_autofree char *participants = canonical_member (record, "participants");
  g_autoptr(Statement) stmt = NULL;

  if (!check_contacts (self, record, "participants", error))
    return FALSE;

  stmt = get_statement (self,
    "INSERT INTO chats (id, kind, title, unread, pinned, muted, archived, participants, json) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title, "
    "unread = excluded.unread, pinned = excluded.pinned, muted = excluded.muted, "
    "archived = excluded.archived, participants = excluded.participants, "
    "json = excluded.json", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, id);
  bind_text (stmt, 2, member_string (record, "kind"));
  bind_text (stmt, 3, member_string (record, "title"));
  sqlite3_bind_int64 (stmt, 4, member_int (record, "unread"));
  sqlite3_bind_int (stmt, 5, member_bool (record, "pinned"));
  sqlite3_bind_int (stmt, 6, member_bool (record, "muted"));
  sqlite3_bind_int (stmt, 7, member_bool (record, "archived"));
  bind_text (stmt, 8, participants);
  bind_text (stmt, 9, json);
  if (!step_done (self, stmt, error))
    return FALSE;

  return set_participants (self,
                           "DELETE FROM chat_participants WHERE chat = ?1",
                           "INSERT INTO chat_participants (chat, contact) VALUES (?1, ?2)",
                           id, json_object_get_array_member (record, "participants"), error);
}

static gboolean
upsert_media (CompanionMirrorStore  *self,
              JsonObject            *record,
              const char            *json,
              GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self,
    "INSERT INTO media (hash, kind, mime, name, size, width, height, duration_ms, json) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, mime = excluded.mime, "
    "name = excluded.name, size = excluded.size, width = excluded.width, "
    "height = excluded.height, duration_ms = excluded.duration_ms, json = excluded.json",
    error);

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, member_string (record, "hash"));
  bind_text (stmt, 2, member_string (record, "kind"));
  bind_text (stmt, 3, member_string (record, "mime"));
  bind_text (stmt, 4, member_string (record, "name"));
  sqlite3_bind_int64 (stmt, 5, member_int (record, "size"));
  bind_optional_int (stmt, 6, record, "width");
  bind_optional_int (stmt, 7, record, "height");
  bind_optional_int (stmt, 8, record, "duration_ms");
  bind_text (stmt, 9, json);
  return step_done (self, stmt, error);
}

static gboolean
upsert_call (CompanionMirrorStore  *self,
             JsonObject            *record,
             const char            *json,
             GError               **error)
{
  const char *id = member_string (record, "id");
  g_autofree char *participants = canonical_member (record, "participants");
  g_autoptr(Statement) stmt = NULL;

  if (!check_contacts (self, record, "participants", error))
    return FALSE;

  stmt = get_statement (self,
    "INSERT INTO calls (id, kind, direction, missed, time, duration_s, participants, json) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, direction = excluded.direction, "
    "missed = excluded.missed, time = excluded.time, duration_s = excluded.duration_s, "
    "participants = excluded.participants, json = excluded.json", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, id);
  bind_text (stmt, 2, member_string (record, "kind"));
  bind_text (stmt, 3, member_string (record, "direction"));
  sqlite3_bind_int (stmt, 4, member_bool (record, "missed"));
  sqlite3_bind_int64 (stmt, 5, member_int (record, "time"));
  sqlite3_bind_int64 (stmt, 6, member_int (record, "duration_s"));
  bind_text (stmt, 7, participants);
  bind_text (stmt, 8, json);
  if (!step_done (self, stmt, error))
    return FALSE;

  return set_participants (self,
                           "DELETE FROM call_participants WHERE call = ?1",
                           "INSERT INTO call_participants (call, contact) VALUES (?1, ?2)",
                           id, json_object_get_array_member (record, "participants"), error);
}

/* A message as stored: its row number, chat and text, and whether the
 * full-text index holds it (it does unless a snapshot page is pending). */
typedef struct
{
  gint64  num;
  char   *chat;
  char   *text;
  gboolean indexed;
} StoredMessage;

static void
stored_message_clear (StoredMessage *stored)
{
  g_clear_pointer (&stored->chat, g_free);
  g_clear_pointer (&stored->text, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StoredMessage, stored_message_clear)

/* 1 when found, 0 when not, -1 with ERROR set. */
static int
find_message (CompanionMirrorStore  *self,
              const char            *id,
              StoredMessage         *out,
              GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self,
    "SELECT m.num, m.chat, m.text, p.num IS NULL FROM messages m "
    "LEFT JOIN fts_pending p ON p.num = m.num WHERE m.id = ?1", error);
  int found;

  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, id);
  found = step_row (self, stmt, error);
  if (found == 1)
    {
      out->num = sqlite3_column_int64 (stmt, 0);
      out->chat = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      out->text = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      out->indexed = sqlite3_column_int (stmt, 3) != 0;
    }
  return found;
}

/* Whether message ID is stored: 1, 0, or -1 with ERROR set. CHAT_OUT (may
 * be NULL) gets its chat; SAME_OUT (may be NULL) whether it is stored as
 * JSON (which may be NULL) already. */
static int
message_exists (CompanionMirrorStore  *self,
                const char            *id,
                const char            *json,
                char                 **chat_out,
                gboolean              *same_out,
                GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self, "SELECT chat, json = ?2 FROM messages WHERE id = ?1", error);
  int found;

  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, id);
  bind_text (stmt, 2, json);
  found = step_row (self, stmt, error);
  if (found == 1 && chat_out != NULL)
    *chat_out = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  if (same_out != NULL)
    *same_out = found == 1 && sqlite3_column_int (stmt, 1) == 1;
  return found;
}

/* A snapshot's new message may change its chat's preview only if it is the
 * chat's newest: refresh_chats compares, instead of querying every chat a
 * page touches (history comes newest first, so most are older). */
static void
note_new_message (Batch      *batch,
                  const char *chat,
                  const char *id,
                  gint64      time,
                  gint64      num)
{
  NewestMessage *newest = g_hash_table_lookup (batch->newer_chats, chat);

  if (newest == NULL)
    {
      newest = g_new0 (NewestMessage, 1);
      g_hash_table_insert (batch->newer_chats, g_strdup (chat), newest);
    }
  else if (time < newest->time || (time == newest->time && strcmp (id, newest->id) < 0))
    return;
  newest->time = time;
  g_free (newest->id);
  newest->id = g_strdup (id);
  newest->num = num;
}

static gboolean
fts_delete (CompanionMirrorStore  *self,
            gint64                 num,
            const char            *text,
            GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self,
    "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?1, ?2)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, num);
  bind_text (stmt, 2, text);
  return step_done (self, stmt, error);
}

/* Binds ?1–?13 of the message INSERT and UPDATE statements. */
/* A message record's columns, each member read once: a first sync reads
 * a million of them. The strings are the record's. */
typedef struct
{
  const char *id;
  const char *chat;
  const char *sender;
  const char *text;
  const char *media;
  const char *reply_to;
  const char *status;
  gint64      time;
  gint64      edited_at;
  gboolean    edited;
  gboolean    deleted;
  char       *reactions; /* canonical JSON */
} MessageColumns;

static void
message_columns_read (MessageColumns *columns,
                      JsonObject     *record)
{
  columns->id = member_string (record, "id");
  columns->chat = member_string (record, "chat");
  columns->sender = member_string (record, "from");
  columns->text = member_string (record, "text");
  columns->media = member_string (record, "media");
  columns->reply_to = member_string (record, "reply_to");
  columns->status = member_string (record, "status");
  columns->time = member_int (record, "time");
  columns->edited = member_has (record, "edited_at");
  columns->edited_at = columns->edited ? member_int (record, "edited_at") : 0;
  columns->deleted = member_bool (record, "deleted");
  columns->reactions = canonical_member (record, "reactions");
}

static void
message_columns_clear (MessageColumns *columns)
{
  g_clear_pointer (&columns->reactions, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MessageColumns, message_columns_clear)

static void
bind_message (sqlite3_stmt         *stmt,
              const MessageColumns *columns,
              const char           *json)
{
  bind_text (stmt, 1, columns->id);
  bind_text (stmt, 2, columns->chat);
  bind_text (stmt, 3, columns->sender);
  sqlite3_bind_int (stmt, 4, columns->sender == NULL);
  sqlite3_bind_int64 (stmt, 5, columns->time);
  bind_text (stmt, 6, columns->text);
  bind_text (stmt, 7, columns->media);
  bind_text (stmt, 8, columns->reply_to);
  bind_text (stmt, 9, columns->status);
  if (columns->edited)
    sqlite3_bind_int64 (stmt, 10, columns->edited_at);
  else
    sqlite3_bind_null (stmt, 10);
  sqlite3_bind_int (stmt, 11, columns->deleted);
  bind_text (stmt, 12, columns->reactions);
  bind_text (stmt, 13, json);
}

static gboolean
upsert_message (CompanionMirrorStore  *self,
                Batch                 *batch,
                JsonObject            *record,
                const char            *json,
                GError               **error)
{
  g_auto(MessageColumns) columns = { 0, };
  const char *id, *chat, *sender, *media, *reply_to, *text;
  g_auto(StoredMessage) stored = { 0, };
  g_autoptr(Statement) stmt = NULL;
  gboolean indexed;
  gint64 num;
  int found;

  message_columns_read (&columns, record);
  id = columns.id;
  chat = columns.chat;
  sender = columns.sender;
  media = columns.media;
  reply_to = columns.reply_to;
  text = columns.text;
  if (!check_known_reference (self, batch, batch->known_chats, "SELECT 1 FROM chats WHERE id = ?1", chat,
                              "a chat", "chat", error))
    return FALSE;
  if (sender != NULL &&
      !check_known_reference (self, batch, batch->known_contacts, "SELECT 1 FROM contacts WHERE id = ?1",
                              sender, "a contact", "from", error))
    return FALSE;
  if (media != NULL &&
      !check_known_reference (self, batch, batch->known_media, "SELECT 1 FROM media WHERE hash = ?1",
                              media, "a media item", "media", error))
    return FALSE;
  if (reply_to != NULL)
    {
      g_autofree char *replied_chat = NULL;

      found = message_exists (self, reply_to, NULL, &replied_chat, NULL, error);
      if (found < 0)
        return FALSE;
      /* History comes newest first: a snapshot may name an older message
       * that has not arrived yet. A live change may not. */
      if ((found == 0 && !batch->bulk) || (found == 1 && g_strcmp0 (replied_chat, chat) != 0))
        {
          g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                       COMPANION_MIRROR_STORE_ERROR_UNKNOWN_REFERENCE,
                       "“reply_to” names a message “%s” that chat “%s” does not have",
                       reply_to, chat);
          return FALSE;
        }
    }

  /* A snapshot brings mostly new messages, and each chat's newest twice
   * (first for the chat list, then in the history): inserted unless the id
   * is there already; the same record stored already changes nothing. */
  found = 1;
  if (batch->bulk)
    {
      gboolean same = FALSE;

      stmt = get_statement (self,
        "INSERT INTO messages (id, chat, sender, outgoing, time, text, media, reply_to, status, "
        "edited_at, deleted, reactions, json) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (id) DO NOTHING", error);
      if (stmt == NULL)
        return FALSE;
      bind_message (stmt, &columns, json);
      if (!step_done (self, stmt, error))
        return FALSE;
      g_clear_pointer (&stmt, statement_release);
      if (sqlite3_changes (self->db) > 0)
        found = 0;
      else
        {
          found = message_exists (self, id, json, NULL, &same, error);
          if (same)
            return TRUE;
        }
    }
  if (found == 1)
    {
      found = find_message (self, id, &stored, error);
      if (found < 0)
        return FALSE;
      /* Added by this transaction: indexed with the others at its commit. */
      if (found == 1 && batch->first_new_num > 0 && stored.num >= batch->first_new_num)
        stored.indexed = FALSE;
      if (found == 1)
        {
          if (stored.indexed && !fts_delete (self, stored.num, stored.text, error))
            return FALSE;
          g_hash_table_add (batch->touched_chats, g_steal_pointer (&stored.chat));
          stmt = get_statement (self,
            "UPDATE messages SET id = ?1, chat = ?2, sender = ?3, outgoing = ?4, time = ?5, "
            "text = ?6, media = ?7, reply_to = ?8, status = ?9, edited_at = ?10, deleted = ?11, "
            "reactions = ?12, json = ?13 WHERE num = ?14", error);
          if (stmt == NULL)
            return FALSE;
          sqlite3_bind_int64 (stmt, 14, stored.num);
        }
      else
        {
          stmt = get_statement (self,
            "INSERT INTO messages (id, chat, sender, outgoing, time, text, media, reply_to, status, "
            "edited_at, deleted, reactions, json) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)", error);
          if (stmt == NULL)
            return FALSE;
        }
      bind_message (stmt, &columns, json);
      if (!step_done (self, stmt, error))
        return FALSE;
    }

  num = found == 1 ? stored.num : sqlite3_last_insert_rowid (self->db);
  indexed = found == 1 ? stored.indexed : TRUE;
  if (found == 0 && batch->bulk)
    {
      if (!columns.deleted)
        note_new_message (batch, chat, id, columns.time, num);
    }
  else
    g_hash_table_add (batch->touched_chats, g_strdup (chat));

  if (batch->index_at_commit)
    {
      if (found == 0 && batch->first_new_num == 0)
        batch->first_new_num = num;
      if (found == 0 || (batch->first_new_num > 0 && num >= batch->first_new_num))
        return TRUE;
      if (indexed)
        {
          g_array_append_val (batch->reindex, num);
          return TRUE;
        }
    }

  if (batch->bulk || !indexed)
    {
      g_autoptr(Statement) pending = get_statement (self,
        "INSERT OR IGNORE INTO fts_pending (num) VALUES (?1)", error);

      if (pending == NULL)
        return FALSE;
      sqlite3_bind_int64 (pending, 1, num);
      return step_done (self, pending, error);
    }
  else
    {
      g_autoptr(Statement) index = get_statement (self,
        "INSERT INTO messages_fts (rowid, text) VALUES (?1, ?2)", error);

      if (index == NULL)
        return FALSE;
      sqlite3_bind_int64 (index, 1, num);
      bind_text (index, 2, text);
      return step_done (self, index, error);
    }
}

/* Deletes */

static gboolean
delete_message (CompanionMirrorStore  *self,
                Batch                 *batch,
                const char            *id,
                GError               **error)
{
  g_auto(StoredMessage) stored = { 0, };
  g_autoptr(Statement) stmt = NULL;
  int found = find_message (self, id, &stored, error);

  if (found <= 0)
    return found == 0;

  if (stored.indexed)
    {
      if (!fts_delete (self, stored.num, stored.text, error))
        return FALSE;
    }
  else
    {
      g_autoptr(Statement) pending = get_statement (self,
        "DELETE FROM fts_pending WHERE num = ?1", error);

      if (pending == NULL)
        return FALSE;
      sqlite3_bind_int64 (pending, 1, stored.num);
      if (!step_done (self, pending, error))
        return FALSE;
    }

  stmt = get_statement (self, "DELETE FROM messages WHERE num = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, stored.num);
  if (!step_done (self, stmt, error))
    return FALSE;
  g_hash_table_add (batch->touched_chats, g_steal_pointer (&stored.chat));
  return TRUE;
}

/* Runs each of SQL (constants, NULL-terminated) with ID as ?1. */
static gboolean
run_with_id (CompanionMirrorStore  *self,
             const char * const    *sql,
             const char            *id,
             GError               **error)
{
  for (guint i = 0; sql[i] != NULL; i++)
    {
      g_autoptr(Statement) stmt = get_statement (self, sql[i], error);

      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, id);
      if (!step_done (self, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
delete_chat (CompanionMirrorStore  *self,
             Batch                 *batch,
             const char            *id,
             GError               **error)
{
  /* Its messages go with it, and out of the full-text index. */
  static const char * const sql[] = {
    "INSERT INTO messages_fts (messages_fts, rowid, text) "
    "SELECT 'delete', m.num, m.text FROM messages m WHERE m.chat = ?1 "
    "AND NOT EXISTS (SELECT 1 FROM fts_pending p WHERE p.num = m.num)",
    "DELETE FROM fts_pending WHERE num IN (SELECT num FROM messages WHERE chat = ?1)",
    "DELETE FROM messages WHERE chat = ?1",
    "DELETE FROM chats WHERE id = ?1",
    NULL
  };

  g_hash_table_remove (batch->touched_chats, id);
  return run_with_id (self, sql, id, error);
}

/* Refuses when SQL (one parameter) finds a record that still names KEY. */
static gboolean
check_unused (CompanionMirrorStore  *self,
              const char            *sql,
              CompanionEntity        entity,
              const char            *key,
              const char            *what,
              GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self, sql, error);
  int found;

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, key);
  found = step_row (self, stmt, error);
  if (found < 0)
    return FALSE;
  if (found == 1)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IN_USE,
                   "%s “%s” cannot be deleted: %s “%s” still names it",
                   companion_entity_to_string (entity), key, what,
                   (const char *) sqlite3_column_text (stmt, 0));
      return FALSE;
    }
  return TRUE;
}

static gboolean
delete_contact (CompanionMirrorStore  *self,
                const char            *id,
                GError               **error)
{
  static const char * const sql[] = { "DELETE FROM contacts WHERE id = ?1", NULL };

  if (!check_unused (self, "SELECT chat FROM chat_participants WHERE contact = ?1 LIMIT 1",
                     COMPANION_ENTITY_CONTACT, id, "chat", error) ||
      !check_unused (self, "SELECT id FROM messages WHERE sender = ?1 LIMIT 1",
                     COMPANION_ENTITY_CONTACT, id, "message", error) ||
      !check_unused (self, "SELECT call FROM call_participants WHERE contact = ?1 LIMIT 1",
                     COMPANION_ENTITY_CONTACT, id, "call", error))
    return FALSE;
  return run_with_id (self, sql, id, error);
}

static gboolean
delete_media (CompanionMirrorStore  *self,
              Batch                 *batch,
              const char            *hash,
              GError               **error)
{
  static const char * const sql[] = { "DELETE FROM media WHERE hash = ?1", NULL };

  if (!check_unused (self, "SELECT id FROM messages WHERE media = ?1 LIMIT 1",
                     COMPANION_ENTITY_MEDIA, hash, "message", error))
    return FALSE;
  if (is_hash (hash))
    g_ptr_array_add (batch->unlink_files, media_path (self, hash));
  return run_with_id (self, sql, hash, error);
}

static gboolean
delete_call (CompanionMirrorStore  *self,
             const char            *id,
             GError               **error)
{
  static const char * const sql[] = { "DELETE FROM calls WHERE id = ?1", NULL };

  return run_with_id (self, sql, id, error);
}

static gboolean
set_invalid_record (GError     **error,
                    GError      *record_error)
{
  g_set_error_literal (error, COMPANION_MIRROR_STORE_ERROR,
                       COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD, record_error->message);
  g_error_free (record_error);
  return FALSE;
}

/* Validates RECORD of ENTITY and upserts it. */
static gboolean
upsert_record (CompanionMirrorStore  *self,
               Batch                 *batch,
               CompanionEntity        entity,
               JsonObject            *record,
               const char            *canonical,
               const char            *expected_id,
               GError               **error)
{
  GError *record_error = NULL;
  g_autofree char *own_json = NULL;
  const char *json = canonical;
  gboolean ok = FALSE;
  const char *id;

  if (record == NULL)
    {
      g_set_error_literal (error, COMPANION_MIRROR_STORE_ERROR,
                           COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD, "an upsert without a record");
      return FALSE;
    }
  /* Validated and written out in one pass, unless that was done already. */
  if (json == NULL)
    json = own_json = companion_record_to_canonical (entity, record, NULL, &record_error);
  if (json == NULL)
    return set_invalid_record (error, record_error);

  id = companion_record_get_id (entity, record);
  if (expected_id != NULL && g_strcmp0 (id, expected_id) != 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD,
                   "%s “%s”: the change's id “%s” is not the record's",
                   companion_entity_to_string (entity), id, expected_id);
      return FALSE;
    }

  switch (entity)
    {
    case COMPANION_ENTITY_CONTACT:
      ok = upsert_contact (self, record, json, error);
      break;
    case COMPANION_ENTITY_CHAT:
      ok = upsert_chat (self, record, json, error);
      break;
    case COMPANION_ENTITY_MESSAGE:
      ok = upsert_message (self, batch, record, json, error);
      break;
    case COMPANION_ENTITY_MEDIA:
      ok = upsert_media (self, record, json, error);
      break;
    case COMPANION_ENTITY_CALL:
      ok = upsert_call (self, record, json, error);
      break;
    case COMPANION_N_ENTITIES:
    default:
      g_assert_not_reached ();
    }
  /* Name the record, as the validator does. */
  if (!ok)
    g_prefix_error (error, "%s “%s”: ", companion_entity_to_string (entity), id);
  return ok;
}

static gboolean
apply_change (CompanionMirrorStore  *self,
              Batch                 *batch,
              CompanionChange       *change,
              GError               **error)
{
  if ((guint) change->entity >= COMPANION_N_ENTITIES)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD,
                   "unknown entity %d", (int) change->entity);
      return FALSE;
    }

  if (!change->is_delete)
    return upsert_record (self, batch, change->entity, change->record, NULL, change->id, error);

  if (change->entity == COMPANION_ENTITY_MEDIA ? !is_hash (change->id) : !is_id (change->id))
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD,
                   "a delete of a %s without a valid “%s”",
                   companion_entity_to_string (change->entity),
                   change->entity == COMPANION_ENTITY_MEDIA ? "hash" : "id");
      return FALSE;
    }

  switch (change->entity)
    {
    case COMPANION_ENTITY_CONTACT:
      return delete_contact (self, change->id, error);
    case COMPANION_ENTITY_CHAT:
      return delete_chat (self, batch, change->id, error);
    case COMPANION_ENTITY_MESSAGE:
      return delete_message (self, batch, change->id, error);
    case COMPANION_ENTITY_MEDIA:
      return delete_media (self, batch, change->id, error);
    case COMPANION_ENTITY_CALL:
      return delete_call (self, change->id, error);
    case COMPANION_N_ENTITIES:
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

/* Brings the last message time and preview of every touched chat up to date. */
static gboolean
refresh_chats (CompanionMirrorStore  *self,
               Batch                 *batch,
               GError               **error)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, batch->touched_chats);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(Statement) stmt = get_statement (self,
        "UPDATE chats SET (last_message_time, last_message_preview) = ("
        "  SELECT m.time, substr(CASE WHEN m.text <> '' THEN m.text"
        "                        ELSE coalesce(md.name, '') END, 1, ?2)"
        "  FROM messages m LEFT JOIN media md ON md.hash = m.media"
        "  WHERE m.chat = chats.id AND m.deleted = 0"
        "  ORDER BY m.time DESC, m.id DESC LIMIT 1) "
        "WHERE id = ?1", error);

      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, key);
      sqlite3_bind_int (stmt, 2, COMPANION_MIRROR_STORE_PREVIEW_LENGTH);
      if (!step_done (self, stmt, error))
        return FALSE;
    }

  g_hash_table_iter_init (&iter, batch->newer_chats);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      NewestMessage *newest = value;
      g_autoptr(Statement) stmt = NULL;

      if (g_hash_table_contains (batch->touched_chats, key))
        continue;
      /* Newer than the chat's newest so far: the new one is the newest, and
       * is read by its row (a first sync builds the chat index only at its
       * end). */
      stmt = get_statement (self,
        "UPDATE chats SET (last_message_time, last_message_preview) = ("
        "  SELECT m.time, substr(CASE WHEN m.text <> '' THEN m.text"
        "                        ELSE coalesce(md.name, '') END, 1, ?2)"
        "  FROM messages m LEFT JOIN media md ON md.hash = m.media"
        "  WHERE m.num = ?4) "
        "WHERE id = ?1 AND (last_message_time IS NULL OR last_message_time < ?3)", error);
      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, key);
      sqlite3_bind_int (stmt, 2, COMPANION_MIRROR_STORE_PREVIEW_LENGTH);
      sqlite3_bind_int64 (stmt, 3, newest->time);
      sqlite3_bind_int64 (stmt, 4, newest->num);
      if (!step_done (self, stmt, error))
        return FALSE;
      if (sqlite3_changes (self->db) > 0)
        continue;
      g_clear_pointer (&stmt, statement_release);
      /* As old as the newest so far: the id decides, as in the chat list. */
      stmt = get_statement (self,
        "UPDATE chats SET (last_message_time, last_message_preview) = ("
        "  SELECT m.time, substr(CASE WHEN m.text <> '' THEN m.text"
        "                        ELSE coalesce(md.name, '') END, 1, ?2)"
        "  FROM messages m LEFT JOIN media md ON md.hash = m.media"
        "  WHERE m.chat = chats.id AND m.deleted = 0"
        "  ORDER BY m.time DESC, m.id DESC LIMIT 1) "
        "WHERE id = ?1 AND last_message_time = ?3", error);
      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, key);
      sqlite3_bind_int (stmt, 2, COMPANION_MIRROR_STORE_PREVIEW_LENGTH);
      sqlite3_bind_int64 (stmt, 3, newest->time);
      if (!step_done (self, stmt, error))
        return FALSE;
    }
  return TRUE;
}

/* -1 with ERROR set. */
static gint64
read_int (CompanionMirrorStore  *self,
          const char            *sql,
          GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self, sql, error);
  int found;

  if (stmt == NULL)
    return -1;
  found = step_row (self, stmt, error);
  if (found < 0)
    return -1;
  if (found == 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_CORRUPT,
                   "The mirror database “%s” has no sync state", self->db_path);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* Runs constant SQL of this file without keeping it prepared: a schema
 * statement prepared once would not see the schema change under it. */
static gboolean
exec_schema (CompanionMirrorStore  *self,
             const char            *sql,
             GError               **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, error, rc, "change its indexes");
      return FALSE;
    }
  return TRUE;
}

/* In a write transaction: builds the secondary indexes of messages
 * (nothing when they are there) or, PRESENT FALSE, drops them. */
static gboolean
set_message_indexes (CompanionMirrorStore  *self,
                     gboolean               present,
                     GError               **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (message_indexes); i++)
    if (!exec_schema (self, present ? message_indexes[i] : drop_message_indexes[i], error))
      return FALSE;
  return TRUE;
}

/* In a snapshot's write transaction: a first sync (no cursor yet; the
 * mirror was emptied when it started) loads without the message indexes. */
static gboolean
prepare_bulk_load (CompanionMirrorStore  *self,
                   GError               **error)
{
  gint64 cursor = read_int (self, "SELECT cursor FROM sync_state", error);
  gint64 indexed;

  if (cursor != 0)
    return cursor > 0;
  indexed = read_int (self, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'messages_chat_time'",
                      error);
  if (indexed <= 0)
    return indexed == 0;
  return set_message_indexes (self, FALSE, error);
}

static gboolean
write_cursor (CompanionMirrorStore  *self,
              guint64                cursor,
              gboolean               clear_progress,
              GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self,
    "UPDATE sync_state SET cursor = ?1, last_sync = ?2, "
    "snapshot_progress = CASE WHEN ?3 THEN NULL ELSE snapshot_progress END", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) cursor);
  sqlite3_bind_int64 (stmt, 2, now_ms ());
  sqlite3_bind_int (stmt, 3, clear_progress);
  return step_done (self, stmt, error);
}

static void
unlink_files (Batch *batch)
{
  for (guint i = 0; i < batch->unlink_files->len; i++)
    {
      const char *path = g_ptr_array_index (batch->unlink_files, i);

      if (g_unlink (path) != 0 && errno != ENOENT)
        g_warning ("Cannot remove the media file “%s”: %s", path, g_strerror (errno));
    }
}

/* Reads all of STREAM into a new file beside the media, hashing it. */
static gboolean
copy_and_hash (GInputStream  *stream,
               int            fd,
               const char    *tmp_path,
               guint64        limit,
               guint8        *hash_out,
               guint64       *size_out,
               GCancellable  *cancellable,
               GError       **error)
{
  crypto_generichash_state state;
  g_autofree guint8 *buffer = g_malloc (COPY_CHUNK);
  guint64 total = 0;

  crypto_generichash_init (&state, NULL, 0, HASH_SIZE);
  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, COPY_CHUNK, cancellable, error);
      gsize done = 0;

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      total += (guint64) n;
      if (total > limit)
        break; /* longer than the record says: a mismatch */
      crypto_generichash_update (&state, buffer, (unsigned long long) n);
      while (done < (gsize) n)
        {
          ssize_t w = write (fd, buffer + done, (gsize) n - done);

          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            {
              int saved = errno;

              g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                           saved == ENOSPC ? COMPANION_MIRROR_STORE_ERROR_FULL
                                           : COMPANION_MIRROR_STORE_ERROR_IO,
                           "Cannot write the media file “%s”: %s", tmp_path, g_strerror (saved));
              return FALSE;
            }
          done += (gsize) w;
        }
    }
  crypto_generichash_final (&state, hash_out, HASH_SIZE);
  *size_out = total;
  return TRUE;
}

/* The BLAKE2b-256 of the file at PATH as hex, or NULL. */
static char *
hash_file (const char *path,
           guint64    *size_out)
{
  crypto_generichash_state state;
  g_autofree guint8 *buffer = g_malloc (COPY_CHUNK);
  guint8 hash[HASH_SIZE];
  char hex[HASH_SIZE * 2 + 1];
  guint64 total = 0;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0)
    return NULL;
  crypto_generichash_init (&state, NULL, 0, HASH_SIZE);
  for (;;)
    {
      ssize_t n = read (fd, buffer, COPY_CHUNK);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      crypto_generichash_update (&state, buffer, (unsigned long long) n);
      total += (guint64) n;
    }
  close (fd);
  crypto_generichash_final (&state, hash, HASH_SIZE);
  sodium_bin2hex (hex, sizeof hex, hash, HASH_SIZE);
  *size_out = total;
  return g_strdup (hex);
}

static gboolean
migrate (CompanionMirrorStore  *self,
         GError               **error)
{
  gint64 version = read_int (self, "PRAGMA user_version", error);

  if (version < 0)
    return FALSE;
  if (version > COMPANION_MIRROR_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NEWER_VERSION,
                   "The mirror database “%s” was written by a newer Companion (schema %"
                   G_GINT64_FORMAT "; this version knows up to %d): update Companion, "
                   "or remove the file to sync again from the phone",
                   self->db_path, version, COMPANION_MIRROR_STORE_SCHEMA_VERSION);
      return FALSE;
    }

  while (version < COMPANION_MIRROR_STORE_SCHEMA_VERSION)
    {
      g_autofree char *set_version = NULL;
      char *message = NULL;
      int rc;

      if (!begin_write (self, error))
        return FALSE;
      /* Another process may have migrated meanwhile. */
      version = read_int (self, "PRAGMA user_version", error);
      if (version < 0)
        goto fail;
      if (version >= COMPANION_MIRROR_STORE_SCHEMA_VERSION)
        return commit (self, error) && migrate (self, error);

      /* Constant SQL of this file and an integer: no outside data. */
      set_version = g_strdup_printf ("PRAGMA user_version = %d", (int) version + 1);
      rc = sqlite3_exec (self->db, migrations[version], NULL, NULL, &message);
      if (rc == SQLITE_OK)
        rc = sqlite3_exec (self->db, set_version, NULL, NULL, &message);
      if (rc != SQLITE_OK)
        {
          g_set_error (error, COMPANION_MIRROR_STORE_ERROR, error_code_for_sqlite (rc),
                       "The mirror database “%s” could not be migrated to schema %d: %s",
                       self->db_path, (int) version + 1, message != NULL ? message : sqlite3_errstr (rc));
          sqlite3_free (message);
          goto fail;
        }
      if (!commit (self, error))
        goto fail;
      g_debug ("Migrated %s to schema %d", self->db_path, (int) version + 1);
      version++;
    }
  return TRUE;

fail:
  rollback (self);
  return FALSE;
}

static gboolean
configure_connection (CompanionMirrorStore  *self,
                      GError               **error)
{
  static const char * const pragmas[] = {
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_size_limit = " JOURNAL_SIZE_LIMIT,
    NULL
  };
  g_autoptr(Statement) mode = NULL;
  int rc;

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  if (!exec_static (self, PAGE_SIZE, error))
    return FALSE;

  mode = get_statement (self, "PRAGMA journal_mode = WAL", error);
  if (mode == NULL)
    return FALSE;
  rc = step_row (self, mode, error);
  if (rc < 0)
    return FALSE;
  if (rc == 0 || g_ascii_strcasecmp ((const char *) sqlite3_column_text (mode, 0), "wal") != 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IO,
                   "The mirror database “%s” cannot use write-ahead logging", self->db_path);
      return FALSE;
    }

  for (guint i = 0; pragmas[i] != NULL; i++)
    {
      g_autoptr(Statement) stmt = get_statement (self, pragmas[i], error);
      int step;

      if (stmt == NULL)
        return FALSE;
      while ((step = step_row (self, stmt, error)) == 1)
        ;
      if (step < 0)
        return FALSE;
    }
  return TRUE;
}

/* Makes PATH a folder of mode 0700. */
static gboolean
ensure_private_dir (const char  *path,
                    GError     **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0 || g_chmod (path, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot create the folder “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Creates the database file 0600 before SQLite does (its -wal and -shm files
 * take the same mode). */
static gboolean
ensure_private_file (const char  *path,
                     GError     **error)
{
  int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0 || fchmod (fd, 0600) != 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot open the mirror database “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static gboolean
open_database (CompanionMirrorStore  *self,
               GError               **error)
{
  int rc;

  if (!ensure_private_dir (self->state_dir, error) ||
      !ensure_private_dir (self->media_dir, error) ||
      !ensure_private_file (self->db_path, error))
    return FALSE;

  rc = sqlite3_open_v2 (self->db_path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, error, rc, "open");
      return FALSE;
    }

  return configure_connection (self, error) && migrate (self, error);
}

/* GObject */

static void
companion_mirror_store_finalize (GObject *object)
{
  CompanionMirrorStore *self = COMPANION_MIRROR_STORE (object);

  g_clear_pointer (&self->statements, g_hash_table_unref);
  if (self->db != NULL)
    {
      int rc = sqlite3_close (self->db);

      if (rc != SQLITE_OK)
        g_warning ("Cannot close the mirror database “%s”: %s", self->db_path, sqlite3_errstr (rc));
      self->db = NULL;
    }
  g_clear_pointer (&self->state_dir, g_free);
  g_clear_pointer (&self->db_path, g_free);
  g_clear_pointer (&self->media_dir, g_free);

  G_OBJECT_CLASS (companion_mirror_store_parent_class)->finalize (object);
}

static void
companion_mirror_store_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  CompanionMirrorStore *self = COMPANION_MIRROR_STORE (object);

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
companion_mirror_store_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  CompanionMirrorStore *self = COMPANION_MIRROR_STORE (object);

  switch (prop_id)
    {
    case PROP_STATE_DIR:
      g_assert (self->state_dir == NULL);
      self->state_dir = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_mirror_store_class_init (CompanionMirrorStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_mirror_store_finalize;
  object_class->get_property = companion_mirror_store_get_property;
  object_class->set_property = companion_mirror_store_set_property;

  properties[PROP_STATE_DIR] =
    g_param_spec_string ("state-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
companion_mirror_store_init (CompanionMirrorStore *self)
{
  /* Keyed by address: every SQL text is a constant of this file. */
  self->statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                            (GDestroyNotify) sqlite3_finalize);
}

CompanionMirrorStore *
companion_mirror_store_open (const char  *state_dir,
                             GError     **error)
{
  g_autoptr(CompanionMirrorStore) self = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (sodium_init () < 0)
    {
      g_set_error_literal (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_FAILED,
                           "libsodium cannot be initialised");
      return NULL;
    }

  self = g_object_new (COMPANION_TYPE_MIRROR_STORE, "state-dir", state_dir, NULL);
  self->db_path = g_build_filename (state_dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  self->media_dir = g_build_filename (state_dir, COMPANION_MIRROR_STORE_MEDIA_DIR, NULL);
  if (!open_database (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
companion_mirror_store_get_state_dir (CompanionMirrorStore *self)
{
  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);

  return self->state_dir;
}

/* Sync */

guint64
companion_mirror_store_get_cursor (CompanionMirrorStore *self)
{
  g_autoptr(GError) local_error = NULL;
  gint64 cursor;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), 0);

  cursor = read_int (self, "SELECT cursor FROM sync_state", &local_error);
  if (cursor < 0)
    {
      g_warning ("%s", local_error->message);
      return 0;
    }
  return (guint64) cursor;
}

gint64
companion_mirror_store_get_last_sync (CompanionMirrorStore *self)
{
  g_autoptr(GError) local_error = NULL;
  gint64 last_sync;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), 0);

  last_sync = read_int (self, "SELECT last_sync FROM sync_state", &local_error);
  if (last_sync < 0)
    {
      g_warning ("%s", local_error->message);
      return 0;
    }
  return last_sync;
}

gboolean
companion_mirror_store_apply_changes (CompanionMirrorStore  *self,
                                      GPtrArray             *changes,
                                      GError               **error)
{
  g_autoptr(Batch) batch = batch_new (FALSE);
  gint64 start;
  guint64 applied;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (changes != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!begin_write (self, error))
    return FALSE;
  start = read_int (self, "SELECT cursor FROM sync_state", error);
  if (start < 0)
    goto fail;
  applied = (guint64) start;

  for (guint i = 0; i < changes->len; i++)
    {
      CompanionChange *change = g_ptr_array_index (changes, i);

      if (change == NULL || change->seq == 0)
        {
          g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                       COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD,
                       "change %u of the batch has no sequence number", i + 1);
          goto fail;
        }
      if (change->seq <= applied)
        continue; /* applied before: re-delivered */
      if (change->seq != applied + 1)
        {
          if (change->seq == applied + 2)
            g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_SEQUENCE_GAP,
                         "change %" G_GUINT64_FORMAT " follows %" G_GUINT64_FORMAT ": %"
                         G_GUINT64_FORMAT " is missing", change->seq, applied, applied + 1);
          else
            g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_SEQUENCE_GAP,
                         "change %" G_GUINT64_FORMAT " follows %" G_GUINT64_FORMAT ": %"
                         G_GUINT64_FORMAT "–%" G_GUINT64_FORMAT " are missing",
                         change->seq, applied, applied + 1, change->seq - 1);
          goto fail;
        }
      if (!apply_change (self, batch, change, error))
        {
          g_prefix_error (error, "change %" G_GUINT64_FORMAT ": ", change->seq);
          goto fail;
        }
      applied = change->seq;
    }

  if (applied != (guint64) start)
    {
      if (!refresh_chats (self, batch, error) ||
          !write_cursor (self, applied, FALSE, error))
        goto fail;
    }
  if (!commit (self, error))
    goto fail;

  unlink_files (batch);
  return TRUE;

fail:
  rollback (self);
  return FALSE;
}

/* In a write transaction: one statement indexes every pending message
 * (NOTES.md: per-row indexing dominates bulk loads). */
static gboolean
index_pending (CompanionMirrorStore  *self,
               GError               **error)
{
  return exec_static (self,
                      "INSERT INTO messages_fts (rowid, text) "
                      "SELECT m.num, m.text FROM fts_pending p JOIN messages m ON m.num = p.num",
                      error) &&
         exec_static (self, "DELETE FROM fts_pending", error);
}

/* The same for the rows a bulk transaction indexes at its commit: those it
 * added, by their range of row numbers, and older ones it changed. */
static gboolean
index_batch (CompanionMirrorStore  *self,
             Batch                 *batch,
             GError               **error)
{
  if (batch->first_new_num > 0)
    {
      g_autoptr(Statement) stmt = get_statement (self,
        "INSERT INTO messages_fts (rowid, text) SELECT num, text FROM messages WHERE num >= ?1", error);

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, batch->first_new_num);
      if (!step_done (self, stmt, error))
        return FALSE;
    }
  for (guint i = 0; i < batch->reindex->len; i++)
    {
      g_autoptr(Statement) stmt = get_statement (self,
        "INSERT INTO messages_fts (rowid, text) SELECT num, text FROM messages WHERE num = ?1", error);

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, g_array_index (batch->reindex, gint64, i));
      if (!step_done (self, stmt, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
companion_mirror_store_apply_snapshot (CompanionMirrorStore  *self,
                                       CompanionEntity        entity,
                                       GPtrArray             *records,
                                       GError               **error)
{
  CompanionSnapshotPage page = { entity, records };

  g_return_val_if_fail (records != NULL, FALSE);

  return companion_mirror_store_apply_snapshot_pages (self, &page, 1, error);
}

gboolean
companion_mirror_store_apply_snapshot_pages (CompanionMirrorStore        *self,
                                             const CompanionSnapshotPage *pages,
                                             guint                        n_pages,
                                             GError                     **error)
{
  return companion_mirror_store_apply_checked_snapshot_pages (self, pages, NULL, n_pages, error);
}

gboolean
companion_mirror_store_apply_checked_snapshot_pages (CompanionMirrorStore        *self,
                                                     const CompanionSnapshotPage *pages,
                                                     GPtrArray * const           *canonical,
                                                     guint                        n_pages,
                                                     GError                     **error)
{
  g_autoptr(Batch) batch = batch_new (TRUE);

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (pages != NULL || n_pages == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint p = 0; p < n_pages; p++)
    if ((guint) pages[p].entity >= COMPANION_N_ENTITIES || pages[p].records == NULL)
      {
        g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD,
                     "snapshot page: unknown entity %d", (int) pages[p].entity);
        return FALSE;
      }

  if (!exec_static (self, SNAPSHOT_CACHE, error) || !exec_static (self, SNAPSHOT_CHECKPOINT, error) ||
      !begin_write (self, error))
    return FALSE;
  batch->index_at_commit = self->index_pages;
  if (!prepare_bulk_load (self, error))
    goto fail;
  for (guint p = 0; p < n_pages; p++)
    for (guint i = 0; i < pages[p].records->len; i++)
      {
        const char *json = NULL;

        if (canonical != NULL && canonical[p] != NULL && i < canonical[p]->len)
          json = g_ptr_array_index (canonical[p], i);
        if (!upsert_record (self, batch, pages[p].entity, g_ptr_array_index (pages[p].records, i),
                            json, NULL, error))
          {
            g_prefix_error (error, "snapshot page, %s %u: ",
                            companion_entity_to_string (pages[p].entity), i + 1);
            goto fail;
          }
      }
  if (!refresh_chats (self, batch, error) ||
      (self->index_pages && (!index_batch (self, batch, error) || !index_pending (self, error))) ||
      !commit (self, error))
    goto fail;
  return TRUE;

fail:
  rollback (self);
  return FALSE;
}

void
companion_mirror_store_set_index_snapshot_pages (CompanionMirrorStore *self,
                                                 gboolean              index_pages)
{
  g_return_if_fail (COMPANION_IS_MIRROR_STORE (self));

  self->index_pages = index_pages;
}

gboolean
companion_mirror_store_finish_snapshot (CompanionMirrorStore  *self,
                                        guint64                cursor,
                                        GError               **error)
{
  gint64 current;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The default cache already: SQLite sorts index keys in memory up to the
   * cache's size, and the snapshot's 64 MiB twice over would be the peak of
   * the whole first sync; with 2 MiB it builds the indexes faster too
   * (1M messages: 1.39 s, 118 MiB → 0.94 s, 8 MiB in sqlite3). */
  if (!exec_static (self, DEFAULT_CACHE, error) || !begin_write (self, error))
    return FALSE;
  current = read_int (self, "SELECT cursor FROM sync_state", error);
  if (current < 0)
    goto fail;
  if (cursor < (guint64) current)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_SEQUENCE_GAP,
                   "the snapshot at change %" G_GUINT64_FORMAT " is older than the mirror, "
                   "which has applied change %" G_GINT64_FORMAT, cursor, current);
      goto fail;
    }
  if (!set_message_indexes (self, TRUE, error) ||
      !index_pending (self, error) ||
      !write_cursor (self, cursor, TRUE, error) ||
      !commit (self, error))
    goto fail;
  return exec_static (self, DEFAULT_CHECKPOINT, error);

fail:
  rollback (self);
  return FALSE;
}

gboolean
companion_mirror_store_reset (CompanionMirrorStore  *self,
                              GError               **error)
{
  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Children before parents for the foreign keys; the outbox and the media
   * files (content-addressed, still valid) stay. */
  if (!begin_write (self, error))
    return FALSE;
  if (!exec_static (self, "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')", error) ||
      !exec_static (self, "DELETE FROM fts_pending", error) ||
      !exec_static (self, "DELETE FROM call_participants", error) ||
      !exec_static (self, "DELETE FROM calls", error) ||
      !exec_static (self, "DELETE FROM messages", error) ||
      !exec_static (self, "DELETE FROM chat_participants", error) ||
      !exec_static (self, "DELETE FROM chats", error) ||
      !exec_static (self, "DELETE FROM media", error) ||
      !exec_static (self, "DELETE FROM contacts", error) ||
      !exec_static (self, "UPDATE sync_state SET cursor = 0, snapshot_progress = NULL", error) ||
      !set_message_indexes (self, TRUE, error) ||
      !commit (self, error))
    {
      rollback (self);
      return FALSE;
    }
  return TRUE;
}

gboolean
companion_mirror_store_set_snapshot_progress (CompanionMirrorStore  *self,
                                              const char            *progress,
                                              GError               **error)
{
  g_autoptr(Statement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (progress != NULL &&
      (strlen (progress) > MAX_PROGRESS_SIZE || !g_utf8_validate (progress, -1, NULL)))
    {
      g_set_error_literal (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                           "The snapshot progress must be at most 64 KiB of UTF-8");
      return FALSE;
    }
  stmt = get_statement (self, "UPDATE sync_state SET snapshot_progress = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, progress);
  return step_done (self, stmt, error);
}

char *
companion_mirror_store_get_snapshot_progress (CompanionMirrorStore *self)
{
  g_autoptr(Statement) stmt = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);

  stmt = get_statement (self, "SELECT snapshot_progress FROM sync_state", &local_error);
  if (stmt == NULL || step_row (self, stmt, &local_error) != 1)
    {
      if (local_error != NULL)
        g_warning ("%s", local_error->message);
      return NULL;
    }
  return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
}

/* Reads */

gint64
companion_mirror_store_count (CompanionMirrorStore  *self,
                              CompanionEntity        entity,
                              GError               **error)
{
  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), -1);
  g_return_val_if_fail ((guint) entity < COMPANION_N_ENTITIES, -1);

  return read_int (self, count_sql[entity], error);
}

JsonObject *
companion_mirror_store_lookup (CompanionMirrorStore  *self,
                               CompanionEntity        entity,
                               const char            *id,
                               GError               **error)
{
  g_autoptr(Statement) stmt = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);
  g_return_val_if_fail ((guint) entity < COMPANION_N_ENTITIES, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  stmt = get_statement (self, lookup_sql[entity], error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, id);
  found = step_row (self, stmt, error);
  if (found <= 0)
    return NULL;
  return parse_object (self, (const char *) sqlite3_column_text (stmt, 0), error);
}

/* Appends the record of column 0 of each row of STMT to a new array. */
static GPtrArray *
collect_records (CompanionMirrorStore  *self,
                 sqlite3_stmt          *stmt,
                 GError               **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  int found;

  while ((found = step_row (self, stmt, error)) == 1)
    {
      JsonObject *record = parse_object (self, (const char *) sqlite3_column_text (stmt, 0), error);

      if (record == NULL)
        return NULL;
      g_ptr_array_add (records, record);
    }
  if (found < 0)
    return NULL;
  return g_steal_pointer (&records);
}

static sqlite3_int64
sql_limit (guint limit)
{
  return limit == 0 ? -1 : (sqlite3_int64) limit;
}

GPtrArray *
companion_mirror_store_list_chats (CompanionMirrorStore  *self,
                                   guint                  limit,
                                   guint                  offset,
                                   GError               **error)
{
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(Statement) stmt = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);

  stmt = get_statement (self,
    "SELECT json, last_message_time, last_message_preview FROM chats "
    "ORDER BY pinned DESC, last_message_time DESC NULLS LAST, id LIMIT ?1 OFFSET ?2", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, sql_limit (limit));
  sqlite3_bind_int64 (stmt, 2, offset);

  chats = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_mirror_chat_free);
  while ((found = step_row (self, stmt, error)) == 1)
    {
      g_autoptr(CompanionMirrorChat) chat = g_new0 (CompanionMirrorChat, 1);
      const char *preview = (const char *) sqlite3_column_text (stmt, 2);

      chat->record = parse_object (self, (const char *) sqlite3_column_text (stmt, 0), error);
      if (chat->record == NULL)
        return NULL;
      chat->last_message_time = sqlite3_column_int64 (stmt, 1);
      chat->last_message_preview = g_strdup (preview != NULL ? preview : "");
      g_ptr_array_add (chats, g_steal_pointer (&chat));
    }
  if (found < 0)
    return NULL;
  return g_steal_pointer (&chats);
}

GPtrArray *
companion_mirror_store_list_messages (CompanionMirrorStore  *self,
                                      const char            *chat_id,
                                      gint64                 before_time,
                                      const char            *before_id,
                                      guint                  limit,
                                      GError               **error)
{
  g_autoptr(Statement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);
  g_return_val_if_fail (chat_id != NULL, NULL);

  if (before_id == NULL)
    {
      stmt = get_statement (self,
        "SELECT json FROM messages WHERE chat = ?1 ORDER BY time DESC, id DESC LIMIT ?2", error);
      if (stmt == NULL)
        return NULL;
    }
  else
    {
      stmt = get_statement (self,
        "SELECT json FROM messages WHERE chat = ?1 AND time <= ?3 AND (time < ?3 OR id < ?4) "
        "ORDER BY time DESC, id DESC LIMIT ?2", error);
      if (stmt == NULL)
        return NULL;
      sqlite3_bind_int64 (stmt, 3, before_time);
      bind_text (stmt, 4, before_id);
    }
  bind_text (stmt, 1, chat_id);
  sqlite3_bind_int64 (stmt, 2, sql_limit (limit));
  return collect_records (self, stmt, error);
}

GPtrArray *
companion_mirror_store_list_calls (CompanionMirrorStore  *self,
                                   guint                  limit,
                                   guint                  offset,
                                   GError               **error)
{
  g_autoptr(Statement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);

  stmt = get_statement (self,
    "SELECT json FROM calls ORDER BY time DESC, id DESC LIMIT ?1 OFFSET ?2", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, sql_limit (limit));
  sqlite3_bind_int64 (stmt, 2, offset);
  return collect_records (self, stmt, error);
}

/* QUERY as an FTS5 expression that cannot be anything but words: each word
 * a quoted string, the last a prefix. NULL when it has no word. */
static char *
fts_query_for (const char *query)
{
  g_auto(GStrv) words = g_strsplit_set (query, " \t\n\r\f\v", -1);
  g_autoptr(GString) expression = g_string_new (NULL);
  const char *last = NULL;

  for (guint i = 0; words[i] != NULL; i++)
    {
      if (words[i][0] == '\0')
        continue;
      if (last != NULL)
        g_string_append_c (expression, ' ');
      g_string_append_c (expression, '"');
      for (const char *p = words[i]; *p != '\0'; p++)
        {
          if (*p == '"')
            g_string_append_c (expression, '"');
          g_string_append_c (expression, *p);
        }
      g_string_append_c (expression, '"');
      last = words[i];
    }
  if (last == NULL)
    return NULL;
  g_string_append_c (expression, '*');
  return g_string_free (g_steal_pointer (&expression), FALSE);
}

GPtrArray *
companion_mirror_store_search (CompanionMirrorStore  *self,
                               const char            *query,
                               const char            *mark_start,
                               const char            *mark_end,
                               guint                  limit,
                               GError               **error)
{
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(Statement) stmt = NULL;
  g_autofree char *expression = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);
  g_return_val_if_fail (query != NULL, NULL);
  g_return_val_if_fail (mark_start != NULL && mark_end != NULL, NULL);

  hits = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_mirror_search_hit_free);
  if (!g_utf8_validate (query, -1, NULL))
    {
      g_set_error_literal (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                           "The search text is not valid UTF-8");
      return NULL;
    }
  expression = fts_query_for (query);
  if (expression == NULL)
    return g_steal_pointer (&hits);

  stmt = get_statement (self,
    "SELECT m.id, m.chat, snippet(messages_fts, 0, ?2, ?3, '…', 12) "
    "FROM messages_fts JOIN messages m ON m.num = messages_fts.rowid "
    "WHERE messages_fts MATCH ?1 ORDER BY m.time DESC, m.id DESC LIMIT ?4", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, expression);
  bind_text (stmt, 2, mark_start);
  bind_text (stmt, 3, mark_end);
  sqlite3_bind_int64 (stmt, 4, sql_limit (limit));

  while ((found = step_row (self, stmt, error)) == 1)
    {
      CompanionMirrorSearchHit *hit = g_new0 (CompanionMirrorSearchHit, 1);

      hit->message_id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      hit->chat_id = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      hit->snippet = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      g_ptr_array_add (hits, hit);
    }
  if (found < 0)
    return NULL;
  return g_steal_pointer (&hits);
}

/* Media */

/* The size of the media record HASH; -1 with ERROR set. */
static gint64
media_size (CompanionMirrorStore  *self,
            const char            *hash,
            GError               **error)
{
  g_autoptr(Statement) stmt = NULL;
  int found;

  if (!is_hash (hash))
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                   "“%s” is not a media hash (64 lowercase hex digits)", hash);
      return -1;
    }
  stmt = get_statement (self, "SELECT size FROM media WHERE hash = ?1", error);
  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, hash);
  found = step_row (self, stmt, error);
  if (found < 0)
    return -1;
  if (found == 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NOT_FOUND,
                   "The mirror has no media “%s”", hash);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

static gboolean
set_media_state (CompanionMirrorStore  *self,
                 const char            *hash,
                 CompanionMediaState    state,
                 guint64                bytes_received,
                 const char            *path,
                 GError               **error)
{
  g_autoptr(Statement) stmt = get_statement (self,
    "UPDATE media SET state = ?2, bytes_received = ?3, path = ?4 WHERE hash = ?1", error);

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, hash);
  sqlite3_bind_int (stmt, 2, state);
  sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) bytes_received);
  bind_text (stmt, 4, path);
  return step_done (self, stmt, error);
}

gboolean
companion_mirror_store_store_media_file (CompanionMirrorStore  *self,
                                         const char            *hash,
                                         GInputStream          *stream,
                                         GCancellable          *cancellable,
                                         GError               **error)
{
  g_autofree char *tmp_path = NULL;
  g_autofree char *final_path = NULL;
  g_autofree char *relative = NULL;
  guint8 digest[HASH_SIZE];
  char hex[HASH_SIZE * 2 + 1];
  guint64 size = 0;
  gint64 expected_size;
  int fd;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  expected_size = media_size (self, hash, error);
  if (expected_size < 0)
    return FALSE;

  tmp_path = g_build_filename (self->media_dir, ".incoming-XXXXXX", NULL);
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                   saved == ENOSPC ? COMPANION_MIRROR_STORE_ERROR_FULL : COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot create a file in “%s”: %s", self->media_dir, g_strerror (saved));
      return FALSE;
    }

  if (!copy_and_hash (stream, fd, tmp_path, (guint64) expected_size, digest, &size,
                      cancellable, error))
    goto fail;
  sodium_bin2hex (hex, sizeof hex, digest, HASH_SIZE);
  if (size != (guint64) expected_size || strcmp (hex, hash) != 0)
    {
      if (size != (guint64) expected_size)
        g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH,
                     "The file for media “%s” is not %" G_GINT64_FORMAT " bytes long as its "
                     "record says; it was not kept", hash, expected_size);
      else
        g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH,
                     "The file for media “%s” hashes to “%s”; it was not kept", hash, hex);
      goto fail;
    }
  if (fsync (fd) != 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                   saved == ENOSPC ? COMPANION_MIRROR_STORE_ERROR_FULL : COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot write the media file “%s”: %s", tmp_path, g_strerror (saved));
      goto fail;
    }
  close (fd);
  fd = -1;

  final_path = media_path (self, hash);
  if (g_rename (tmp_path, final_path) != 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot keep the media file “%s”: %s", final_path, g_strerror (saved));
      goto fail;
    }
  companion_state_dir_sync (self->media_dir);

  relative = g_build_filename (COMPANION_MIRROR_STORE_MEDIA_DIR, hash, NULL);
  return set_media_state (self, hash, COMPANION_MEDIA_STATE_COMPLETE, size, relative, error);

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return FALSE;
}

gboolean
companion_mirror_store_set_media_progress (CompanionMirrorStore  *self,
                                           const char            *hash,
                                           guint64                bytes_received,
                                           GError               **error)
{
  CompanionMediaState state;
  guint64 received;
  gint64 size;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);

  size = media_size (self, hash, error);
  if (size < 0 ||
      !companion_mirror_store_get_media_state (self, hash, &state, &received, error))
    return FALSE;
  if (state == COMPANION_MEDIA_STATE_COMPLETE)
    return TRUE; /* the verified file is already here */
  if (bytes_received > (guint64) size)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                   "Media “%s” has %" G_GINT64_FORMAT " bytes, not %" G_GUINT64_FORMAT,
                   hash, size, bytes_received);
      return FALSE;
    }
  return set_media_state (self, hash,
                          bytes_received == 0 ? COMPANION_MEDIA_STATE_ABSENT
                                              : COMPANION_MEDIA_STATE_PARTIAL,
                          bytes_received, NULL, error);
}

gboolean
companion_mirror_store_get_media_state (CompanionMirrorStore  *self,
                                        const char            *hash,
                                        CompanionMediaState   *state_out,
                                        guint64               *bytes_received_out,
                                        GError               **error)
{
  g_autoptr(Statement) stmt = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);

  stmt = get_statement (self, "SELECT state, bytes_received FROM media WHERE hash = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, hash);
  found = step_row (self, stmt, error);
  if (found < 0)
    return FALSE;
  if (found == 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NOT_FOUND,
                   "The mirror has no media “%s”", hash);
      return FALSE;
    }
  if (state_out != NULL)
    *state_out = (CompanionMediaState) sqlite3_column_int (stmt, 0);
  if (bytes_received_out != NULL)
    *bytes_received_out = (guint64) sqlite3_column_int64 (stmt, 1);
  return TRUE;
}

char *
companion_mirror_store_get_media_path (CompanionMirrorStore *self,
                                       const char           *hash)
{
  CompanionMediaState state;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);
  g_return_val_if_fail (hash != NULL, NULL);

  if (!is_hash (hash) ||
      !companion_mirror_store_get_media_state (self, hash, &state, NULL, NULL) ||
      state != COMPANION_MEDIA_STATE_COMPLETE)
    return NULL;
  return media_path (self, hash);
}

gboolean
companion_mirror_store_verify_media_files (CompanionMirrorStore  *self,
                                           GError               **error)
{
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) complete = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(Statement) stmt = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);

  stmt = get_statement (self, "SELECT hash, size FROM media WHERE state = ?1 ORDER BY hash", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, COMPANION_MEDIA_STATE_COMPLETE);
  while ((found = step_row (self, stmt, error)) == 1)
    {
      gint64 size = sqlite3_column_int64 (stmt, 1);

      g_ptr_array_add (complete, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
      g_array_append_val (sizes, size);
    }
  if (found < 0)
    return FALSE;
  statement_release (stmt);

  for (guint i = 0; i < complete->len; i++)
    {
      const char *hash = g_ptr_array_index (complete, i);
      g_autofree char *path = media_path (self, hash);
      g_autofree char *actual = NULL;
      guint64 size = 0;

      actual = hash_file (path, &size);
      if (actual == NULL || strcmp (actual, hash) != 0 ||
          size != (guint64) g_array_index (sizes, gint64, i))
        g_ptr_array_add (bad, g_strdup (hash));
    }

  if (bad->len > 0)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (bad, NULL);
      list = g_strjoinv (", ", (char **) bad->pdata);
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH,
                   "%u of %u media files are missing or do not match their hash: %s",
                   bad->len - 1, complete->len, list);
      return FALSE;
    }
  return TRUE;
}

/* Outbox */

char *
companion_mirror_store_import_media_file (CompanionMirrorStore  *self,
                                          GInputStream          *stream,
                                          guint64                max_size,
                                          guint64               *size_out,
                                          GCancellable          *cancellable,
                                          GError               **error)
{
  g_autofree char *tmp_path = NULL;
  g_autofree char *final_path = NULL;
  guint8 digest[HASH_SIZE];
  char hex[HASH_SIZE * 2 + 1];
  guint64 size = 0;
  int fd;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Only self->media_dir is used: no database, so any thread will do. */
  tmp_path = g_build_filename (self->media_dir, ".incoming-XXXXXX", NULL);
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                   saved == ENOSPC ? COMPANION_MIRROR_STORE_ERROR_FULL : COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot create a file in “%s”: %s", self->media_dir, g_strerror (saved));
      return NULL;
    }
  if (!copy_and_hash (stream, fd, tmp_path, max_size, digest, &size, cancellable, error))
    goto fail;
  if (size > max_size)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                   "The file is larger than %" G_GUINT64_FORMAT " bytes; it was not kept", max_size);
      goto fail;
    }
  if (fsync (fd) != 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                   saved == ENOSPC ? COMPANION_MIRROR_STORE_ERROR_FULL : COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot write the media file “%s”: %s", tmp_path, g_strerror (saved));
      goto fail;
    }
  close (fd);
  fd = -1;

  /* Named by its hash: the same bytes already there are the same file. */
  sodium_bin2hex (hex, sizeof hex, digest, HASH_SIZE);
  final_path = media_path (self, hex);
  if (g_rename (tmp_path, final_path) != 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot keep the media file “%s”: %s", final_path, g_strerror (saved));
      goto fail;
    }
  companion_state_dir_sync (self->media_dir);
  if (size_out != NULL)
    *size_out = size;
  return g_strdup (hex);

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return NULL;
}

gboolean
companion_mirror_store_keep_media_file (CompanionMirrorStore  *self,
                                        const char            *hash,
                                        const char            *path,
                                        const guint8          *digest,
                                        GError               **error)
{
  g_autofree char *final_path = NULL;
  char hex[HASH_SIZE * 2 + 1];
  struct stat st;
  int fd = -1;
  int saved;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (hash != NULL && path != NULL && digest != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Only self->media_dir is used: no database, so any thread will do. */
  sodium_bin2hex (hex, sizeof hex, digest, HASH_SIZE);
  if (!is_hash (hash) || strcmp (hex, hash) != 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH,
                   "The file for media “%s” hashes to “%s”; it was not kept", hash, hex);
      goto fail;
    }
  /* The bytes reach the disk before the name does, as for every media file. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) != 0)
    saved = errno;
  else if (!S_ISREG (st.st_mode))
    saved = EINVAL;
  else
    saved = fsync (fd) == 0 ? 0 : errno;
  if (saved != 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR,
                   saved == ENOSPC ? COMPANION_MIRROR_STORE_ERROR_FULL : COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot write the media file “%s”: %s", path, g_strerror (saved));
      goto fail;
    }
  close (fd);
  fd = -1;

  final_path = media_path (self, hash);
  if (g_rename (path, final_path) != 0)
    {
      saved = errno;
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IO,
                   "Cannot keep the media file “%s”: %s", final_path, g_strerror (saved));
      goto fail;
    }
  companion_state_dir_sync (self->media_dir);
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (path);
  return FALSE;
}

gboolean
companion_mirror_store_adopt_media_file (CompanionMirrorStore  *self,
                                         const char            *hash,
                                         gboolean              *complete_out,
                                         GError               **error)
{
  g_autofree char *path = NULL;
  g_autofree char *relative = NULL;
  CompanionMediaState state;
  GStatBuf st;
  gint64 size;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);

  if (complete_out != NULL)
    *complete_out = FALSE;
  size = media_size (self, hash, error);
  if (size < 0 || !companion_mirror_store_get_media_state (self, hash, &state, NULL, error))
    return FALSE;
  if (state == COMPANION_MEDIA_STATE_COMPLETE)
    {
      if (complete_out != NULL)
        *complete_out = TRUE;
      return TRUE;
    }
  /* Only import_media_file and keep_media_file name a file by its hash,
   * and both hashed the bytes first: the size is the remaining check. */
  path = media_path (self, hash);
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) || (gint64) st.st_size != size)
    return TRUE;
  relative = g_build_filename (COMPANION_MIRROR_STORE_MEDIA_DIR, hash, NULL);
  if (!set_media_state (self, hash, COMPANION_MEDIA_STATE_COMPLETE, (guint64) size, relative, error))
    return FALSE;
  if (complete_out != NULL)
    *complete_out = TRUE;
  return TRUE;
}

gboolean
companion_mirror_store_outbox_add (CompanionMirrorStore  *self,
                                   const char            *client_id,
                                   JsonObject            *command,
                                   GError               **error)
{
  g_autoptr(Statement) find = NULL;
  g_autoptr(Statement) insert = NULL;
  g_autofree char *json = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (client_id != NULL, FALSE);
  g_return_val_if_fail (command != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!is_id (client_id))
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                   "The client id “%s” is not 1–64 letters, digits, “-” or “_”", client_id);
      return FALSE;
    }
  json = canonical_object (command);
  if (json == NULL || strlen (json) > MAX_COMMAND_SIZE)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                   "The command “%s” cannot be stored", client_id);
      return FALSE;
    }

  find = get_statement (self, "SELECT command FROM outbox WHERE client_id = ?1", error);
  if (find == NULL)
    return FALSE;
  bind_text (find, 1, client_id);
  found = step_row (self, find, error);
  if (found < 0)
    return FALSE;
  if (found == 1)
    {
      if (g_strcmp0 ((const char *) sqlite3_column_text (find, 0), json) == 0)
        return TRUE;
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID,
                   "The outbox already holds another command “%s”", client_id);
      return FALSE;
    }
  statement_release (find);

  insert = get_statement (self,
    "INSERT INTO outbox (client_id, command, created, attempts) VALUES (?1, ?2, ?3, 0)", error);
  if (insert == NULL)
    return FALSE;
  bind_text (insert, 1, client_id);
  bind_text (insert, 2, json);
  sqlite3_bind_int64 (insert, 3, now_ms ());
  return step_done (self, insert, error);
}

GPtrArray *
companion_mirror_store_outbox_list (CompanionMirrorStore  *self,
                                    GError               **error)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(Statement) stmt = NULL;
  int found;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);

  stmt = get_statement (self,
    "SELECT client_id, command, created, attempts FROM outbox ORDER BY created, rowid", error);
  if (stmt == NULL)
    return NULL;
  entries = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_outbox_entry_free);
  while ((found = step_row (self, stmt, error)) == 1)
    {
      g_autoptr(CompanionOutboxEntry) entry = g_new0 (CompanionOutboxEntry, 1);

      entry->client_id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      entry->command = parse_object (self, (const char *) sqlite3_column_text (stmt, 1), error);
      if (entry->command == NULL)
        return NULL;
      entry->created = sqlite3_column_int64 (stmt, 2);
      entry->attempts = (guint) sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (entries, g_steal_pointer (&entry));
    }
  if (found < 0)
    return NULL;
  return g_steal_pointer (&entries);
}

gboolean
companion_mirror_store_outbox_mark_attempt (CompanionMirrorStore  *self,
                                            const char            *client_id,
                                            GError               **error)
{
  g_autoptr(Statement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (client_id != NULL, FALSE);

  stmt = get_statement (self, "UPDATE outbox SET attempts = attempts + 1 WHERE client_id = ?1",
                        error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, client_id);
  if (!step_done (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NOT_FOUND,
                   "The outbox has no command “%s”", client_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
companion_mirror_store_outbox_remove (CompanionMirrorStore  *self,
                                      const char            *client_id,
                                      gboolean              *removed_out,
                                      GError               **error)
{
  g_autoptr(Statement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), FALSE);
  g_return_val_if_fail (client_id != NULL, FALSE);

  if (removed_out != NULL)
    *removed_out = FALSE;
  stmt = get_statement (self, "DELETE FROM outbox WHERE client_id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, client_id);
  if (!step_done (self, stmt, error))
    return FALSE;
  if (removed_out != NULL)
    *removed_out = sqlite3_changes (self->db) > 0;
  return TRUE;
}

/* Export */

CompanionExport *
companion_mirror_store_export (CompanionMirrorStore  *self,
                               GError               **error)
{
  g_autoptr(CompanionExport) export = NULL;

  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* One read transaction: a consistent picture even with a writer elsewhere. */
  if (!exec_static (self, "BEGIN", error))
    return NULL;
  export = companion_export_new ();
  for (guint entity = 0; entity < COMPANION_N_ENTITIES; entity++)
    {
      g_autoptr(Statement) stmt = get_statement (self, export_sql[entity], error);
      g_autoptr(GPtrArray) records = NULL;

      if (stmt == NULL || (records = collect_records (self, stmt, error)) == NULL)
        {
          rollback (self);
          return NULL;
        }
      for (guint i = 0; i < records->len; i++)
        companion_export_add (export, (CompanionEntity) entity, g_ptr_array_index (records, i));
    }
  if (!commit (self, error))
    {
      rollback (self);
      return NULL;
    }
  return g_steal_pointer (&export);
}

/* Boxed results */

void
companion_mirror_chat_free (CompanionMirrorChat *chat)
{
  if (chat == NULL)
    return;
  g_clear_pointer (&chat->record, json_object_unref);
  g_free (chat->last_message_preview);
  g_free (chat);
}

void
companion_mirror_search_hit_free (CompanionMirrorSearchHit *hit)
{
  if (hit == NULL)
    return;
  g_free (hit->message_id);
  g_free (hit->chat_id);
  g_free (hit->snippet);
  g_free (hit);
}

void
companion_outbox_entry_free (CompanionOutboxEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->client_id);
  g_clear_pointer (&entry->command, json_object_unref);
  g_free (entry);
}
