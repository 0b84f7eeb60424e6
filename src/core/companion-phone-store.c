/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-phone-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-phone-store.h"

#define HASH_SIZE      32
#define HASH_HEX_SIZE  (HASH_SIZE * 2)
#define COPY_BUFFER    (64 * 1024)
#define BUSY_TIMEOUT   5000

/* Numbered migrations: user_version N means migrations[0..N-1] have run.
 * Each table keeps the canonical JSON of its records ("record") and the
 * columns queried. The foreign keys back up the checks apply() makes itself
 * with clearer messages. */
static const char * const migrations[] = {
  /* 1 */
  "CREATE TABLE contacts (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);"
  "CREATE TABLE media (hash TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);"
  "CREATE TABLE chats (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);"
  "CREATE TABLE chat_participants ("
  "  chat TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,"
  "  contact TEXT NOT NULL REFERENCES contacts (id),"
  "  PRIMARY KEY (chat, contact)) WITHOUT ROWID;"
  "CREATE INDEX chat_participants_contact ON chat_participants (contact);"
  "CREATE TABLE messages ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  chat TEXT NOT NULL REFERENCES chats (id),"
  "  sender TEXT REFERENCES contacts (id),"
  "  time INTEGER NOT NULL,"
  "  media TEXT REFERENCES media (hash),"
  "  record TEXT NOT NULL);"
  "CREATE INDEX messages_time ON messages (time, id);"
  "CREATE INDEX messages_chat_time ON messages (chat, time, id);"
  "CREATE INDEX messages_sender ON messages (sender) WHERE sender IS NOT NULL;"
  "CREATE INDEX messages_media ON messages (media) WHERE media IS NOT NULL;"
  "CREATE TABLE calls (id TEXT PRIMARY KEY NOT NULL, time INTEGER NOT NULL, record TEXT NOT NULL);"
  "CREATE TABLE call_participants ("
  "  call TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,"
  "  contact TEXT NOT NULL REFERENCES contacts (id),"
  "  PRIMARY KEY (call, contact)) WITHOUT ROWID;"
  "CREATE INDEX call_participants_contact ON call_participants (contact);"
  "CREATE TABLE changes ("
  "  seq INTEGER PRIMARY KEY,"
  "  entity TEXT NOT NULL,"
  "  id TEXT NOT NULL,"
  "  op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),"
  "  record TEXT);",
};

typedef enum
{
  S_BEGIN_WRITE,
  S_BEGIN_READ,
  S_COMMIT,
  S_ROLLBACK,
  S_MAX_SEQ,
  S_LOG,
  S_CONTACT_EXISTS,
  S_CHAT_EXISTS,
  S_MEDIA_EXISTS,
  S_MESSAGE_CHAT,
  S_UPSERT_CONTACT,
  S_UPSERT_CHAT,
  S_DELETE_CHAT_PARTICIPANTS,
  S_INSERT_CHAT_PARTICIPANT,
  S_UPSERT_MEDIA,
  S_UPSERT_MESSAGE,
  S_UPSERT_CALL,
  S_DELETE_CALL_PARTICIPANTS,
  S_INSERT_CALL_PARTICIPANT,
  S_CONTACT_IN_CHAT,
  S_CONTACT_IN_MESSAGE,
  S_CONTACT_IN_REACTION,
  S_CONTACT_IN_CALL,
  S_MEDIA_IN_MESSAGE,
  S_CHAT_MESSAGE_IDS,
  S_DELETE_CHAT_MESSAGES,
  S_DELETE_CONTACT,
  S_DELETE_CHAT,
  S_DELETE_MESSAGE,
  S_DELETE_MEDIA,
  S_DELETE_CALL,
  S_CHANGES_AFTER,
  S_LIST_CONTACTS,
  S_LIST_CHATS,
  S_LAST_MESSAGE,
  S_MESSAGES_NEWEST,
  S_MESSAGES_BEFORE,
  S_CALLS_FIRST,
  S_CALLS_AFTER,
  S_MEDIA_FIRST,
  S_MEDIA_AFTER,
  S_ALL_MESSAGES,
  S_ALL_CALLS,
  S_ALL_MEDIA,
  S_COUNT_CONTACTS,
  S_COUNT_CHATS,
  S_COUNT_MESSAGES,
  S_COUNT_MEDIA,
  S_COUNT_CALLS,
  S_COUNT_CHANGES,
  S_TEXT_CONTACTS,
  S_TEXT_CHATS,
  S_TEXT_PREVIEWS,
  S_TEXT_PREVIEW_MEDIA,
  S_TEXT_MEDIA_FIRST,
  S_TEXT_MEDIA_AFTER,
  S_TEXT_MESSAGES_NEWEST,
  S_TEXT_MESSAGES_BEFORE,
  S_TEXT_CALLS_FIRST,
  S_TEXT_CALLS_AFTER,
  N_STATEMENTS
} StatementId;

static const char * const statement_sql[N_STATEMENTS] = {
  [S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
  [S_BEGIN_READ] = "BEGIN",
  [S_COMMIT] = "COMMIT",
  [S_ROLLBACK] = "ROLLBACK",
  [S_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM changes",
  [S_LOG] = "INSERT INTO changes (seq, entity, id, op, record) VALUES (?1, ?2, ?3, ?4, ?5)",
  [S_CONTACT_EXISTS] = "SELECT 1 FROM contacts WHERE id = ?1",
  [S_CHAT_EXISTS] = "SELECT 1 FROM chats WHERE id = ?1",
  [S_MEDIA_EXISTS] = "SELECT 1 FROM media WHERE hash = ?1",
  [S_MESSAGE_CHAT] = "SELECT chat FROM messages WHERE id = ?1",
  [S_UPSERT_CONTACT] = "INSERT INTO contacts (id, record) VALUES (?1, ?2)"
                       " ON CONFLICT (id) DO UPDATE SET record = excluded.record",
  [S_UPSERT_CHAT] = "INSERT INTO chats (id, record) VALUES (?1, ?2)"
                    " ON CONFLICT (id) DO UPDATE SET record = excluded.record",
  [S_DELETE_CHAT_PARTICIPANTS] = "DELETE FROM chat_participants WHERE chat = ?1",
  [S_INSERT_CHAT_PARTICIPANT] = "INSERT INTO chat_participants (chat, contact) VALUES (?1, ?2)",
  [S_UPSERT_MEDIA] = "INSERT INTO media (hash, record) VALUES (?1, ?2)"
                     " ON CONFLICT (hash) DO UPDATE SET record = excluded.record",
  [S_UPSERT_MESSAGE] = "INSERT INTO messages (id, chat, sender, time, media, record)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT (id) DO UPDATE SET chat = excluded.chat,"
                       " sender = excluded.sender, time = excluded.time,"
                       " media = excluded.media, record = excluded.record",
  [S_UPSERT_CALL] = "INSERT INTO calls (id, time, record) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT (id) DO UPDATE SET time = excluded.time, record = excluded.record",
  [S_DELETE_CALL_PARTICIPANTS] = "DELETE FROM call_participants WHERE call = ?1",
  [S_INSERT_CALL_PARTICIPANT] = "INSERT INTO call_participants (call, contact) VALUES (?1, ?2)",
  [S_CONTACT_IN_CHAT] = "SELECT chat FROM chat_participants WHERE contact = ?1 LIMIT 1",
  [S_CONTACT_IN_MESSAGE] = "SELECT id FROM messages WHERE sender = ?1 LIMIT 1",
  /* A full scan, but deleting a contact is rare. Ids are [A-Za-z0-9_-]. */
  [S_CONTACT_IN_REACTION] = "SELECT id FROM messages"
                            " WHERE json_type (record, '$.reactions.\"' || ?1 || '\"') IS NOT NULL"
                            " LIMIT 1",
  [S_CONTACT_IN_CALL] = "SELECT call FROM call_participants WHERE contact = ?1 LIMIT 1",
  [S_MEDIA_IN_MESSAGE] = "SELECT id FROM messages WHERE media = ?1 LIMIT 1",
  [S_CHAT_MESSAGE_IDS] = "SELECT id FROM messages WHERE chat = ?1 ORDER BY time, id",
  [S_DELETE_CHAT_MESSAGES] = "DELETE FROM messages WHERE chat = ?1",
  [S_DELETE_CONTACT] = "DELETE FROM contacts WHERE id = ?1",
  [S_DELETE_CHAT] = "DELETE FROM chats WHERE id = ?1",
  [S_DELETE_MESSAGE] = "DELETE FROM messages WHERE id = ?1",
  [S_DELETE_MEDIA] = "DELETE FROM media WHERE hash = ?1",
  [S_DELETE_CALL] = "DELETE FROM calls WHERE id = ?1",
  [S_CHANGES_AFTER] = "SELECT seq, entity, id, op, record FROM changes"
                      " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
  [S_LIST_CONTACTS] = "SELECT record FROM contacts ORDER BY id",
  [S_LIST_CHATS] = "SELECT id, record FROM chats ORDER BY id",
  [S_LAST_MESSAGE] = "SELECT record FROM messages WHERE chat = ?1"
                     " ORDER BY time DESC, id DESC LIMIT 1",
  [S_MESSAGES_NEWEST] = "SELECT record FROM messages ORDER BY time DESC, id DESC LIMIT ?1",
  [S_MESSAGES_BEFORE] = "SELECT record FROM messages WHERE (time, id) < (?1, ?2)"
                        " ORDER BY time DESC, id DESC LIMIT ?3",
  [S_CALLS_FIRST] = "SELECT record FROM calls ORDER BY id LIMIT ?1",
  [S_CALLS_AFTER] = "SELECT record FROM calls WHERE id > ?1 ORDER BY id LIMIT ?2",
  [S_MEDIA_FIRST] = "SELECT record FROM media ORDER BY hash LIMIT ?1",
  [S_MEDIA_AFTER] = "SELECT record FROM media WHERE hash > ?1 ORDER BY hash LIMIT ?2",
  [S_ALL_MESSAGES] = "SELECT record FROM messages",
  [S_ALL_CALLS] = "SELECT record FROM calls",
  [S_ALL_MEDIA] = "SELECT record FROM media",
  [S_COUNT_CONTACTS] = "SELECT count(*) FROM contacts",
  [S_COUNT_CHATS] = "SELECT count(*) FROM chats",
  [S_COUNT_MESSAGES] = "SELECT count(*) FROM messages",
  [S_COUNT_MEDIA] = "SELECT count(*) FROM media",
  [S_COUNT_CALLS] = "SELECT count(*) FROM calls",
  [S_COUNT_CHANGES] = "SELECT count(*) FROM changes",
  /* The first sync's pages as stored text: key, time, record. */
  [S_TEXT_CONTACTS] = "SELECT id, 0, record FROM contacts ORDER BY id",
  [S_TEXT_CHATS] = "SELECT id, 0, record FROM chats ORDER BY id",
  /* By rowid, which messages_chat_time carries: one B-tree fewer to walk
   * a chat than by id, which counts on a cold cache. */
  [S_TEXT_PREVIEWS] = "SELECT m.id, m.time, m.record, m.media FROM chats c JOIN messages m ON m.rowid ="
                      " (SELECT rowid FROM messages WHERE chat = c.id ORDER BY time DESC, id DESC LIMIT 1)"
                      " ORDER BY c.id",
  [S_TEXT_PREVIEW_MEDIA] = "SELECT hash, 0, record FROM media WHERE hash = ?1",
  [S_TEXT_MEDIA_FIRST] = "SELECT hash, 0, record FROM media ORDER BY hash LIMIT ?3",
  [S_TEXT_MEDIA_AFTER] = "SELECT hash, 0, record FROM media WHERE hash > ?2 ORDER BY hash LIMIT ?3",
  [S_TEXT_MESSAGES_NEWEST] = "SELECT id, time, record FROM messages ORDER BY time DESC, id DESC LIMIT ?3",
  [S_TEXT_MESSAGES_BEFORE] = "SELECT id, time, record FROM messages WHERE (time, id) < (?1, ?2)"
                             " ORDER BY time DESC, id DESC LIMIT ?3",
  [S_TEXT_CALLS_FIRST] = "SELECT id, 0, record FROM calls ORDER BY id LIMIT ?3",
  [S_TEXT_CALLS_AFTER] = "SELECT id, 0, record FROM calls WHERE id > ?2 ORDER BY id LIMIT ?3",
};

struct _CompanionPhoneStore
{
  GObject       parent_instance;

  char         *state_dir;
  char         *media_dir;
  sqlite3      *db;
  sqlite3_stmt *statements[N_STATEMENTS];
};

G_DEFINE_FINAL_TYPE (CompanionPhoneStore, companion_phone_store, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-phone-store-error-quark, companion_phone_store_error)

/* A statement in use: reset (and its bindings cleared) when it goes out of
 * scope, so no read stays open by accident. */
typedef sqlite3_stmt UsedStatement;

static void
used_statement_release (UsedStatement *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UsedStatement, used_statement_release)

/* Helpers */

static UsedStatement *
use (CompanionPhoneStore *self,
     StatementId          id)
{
  sqlite3_stmt *stmt = self->statements[id];

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return stmt;
}

static gboolean
db_error (CompanionPhoneStore *self,
          GError             **error,
          const char          *what)
{
  g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_FAILED,
               "Phone database: %s failed: %s", what, sqlite3_errmsg (self->db));
  return FALSE;
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

/* Runs a statement that returns no row. */
static gboolean
run (CompanionPhoneStore *self,
     sqlite3_stmt        *stmt,
     GError             **error,
     const char          *what)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return db_error (self, error, what);
  return TRUE;
}

static gboolean
run_simple (CompanionPhoneStore *self,
            StatementId          id,
            GError             **error)
{
  return run (self, use (self, id), error, statement_sql[id]);
}

static void
rollback (CompanionPhoneStore *self)
{
  if (!sqlite3_get_autocommit (self->db))
    run_simple (self, S_ROLLBACK, NULL);
}

/* Does the one-parameter query ID return a row for KEY? -1 on error. */
static int
exists (CompanionPhoneStore *self,
        StatementId          id,
        const char          *key,
        char               **first_column_out,
        GError             **error)
{
  g_autoptr(UsedStatement) stmt = use (self, id);
  int rc;

  bind_text (stmt, 1, key);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      if (first_column_out != NULL)
        *first_column_out = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      return 1;
    }
  if (rc == SQLITE_DONE)
    return 0;
  db_error (self, error, "a lookup");
  return -1;
}

static JsonObject *
parse_record (const char *text,
              gsize       length,
              GError    **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, (gssize) length, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_CORRUPT,
                           "Phone database: a stored record is not a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static JsonObject *
column_record (sqlite3_stmt *stmt,
               int           column,
               GError      **error)
{
  const char *text = (const char *) sqlite3_column_text (stmt, column);
  int length = sqlite3_column_bytes (stmt, column);

  if (text == NULL)
    {
      g_set_error_literal (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_CORRUPT,
                           "Phone database: a stored record is missing");
      return NULL;
    }
  return parse_record (text, (gsize) length, error);
}

/* Steps STMT and collects column COLUMN of each row as a record. */
static GPtrArray *
collect_records (CompanionPhoneStore *self,
                 sqlite3_stmt        *stmt,
                 int                  column,
                 GError             **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      JsonObject *record = column_record (stmt, column, error);

      if (record == NULL)
        return NULL;
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    {
      db_error (self, error, "reading records");
      return NULL;
    }
  return g_steal_pointer (&records);
}

static gboolean
is_hash (const char *text)
{
  if (text == NULL || strlen (text) != HASH_HEX_SIZE)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static char *
hash_to_hex (const guint8 *hash)
{
  char hex[HASH_HEX_SIZE + 1];

  sodium_bin2hex (hex, sizeof hex, hash, HASH_SIZE);
  return g_strdup (hex);
}

/* BLAKE2b-256 of the file at PATH, streamed; its size in SIZE_OUT. */
static gboolean
hash_file (const char *path,
           guint8     *hash,
           goffset    *size_out,
           GError    **error)
{
  crypto_generichash_state state;
  g_autofree guint8 *buffer = g_malloc (COPY_BUFFER);
  goffset size = 0;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot open “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  crypto_generichash_init (&state, NULL, 0, HASH_SIZE);
  for (;;)
    {
      ssize_t n = read (fd, buffer, COPY_BUFFER);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Cannot read “%s”: %s", path, g_strerror (saved));
          return FALSE;
        }
      if (n == 0)
        break;
      crypto_generichash_update (&state, buffer, (unsigned long long) n);
      size += n;
    }
  close (fd);
  crypto_generichash_final (&state, hash, HASH_SIZE);
  if (size_out != NULL)
    *size_out = size;
  return TRUE;
}

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* Names the temporary copy TMP_PATH after its hash, after hashing it again:
 * what is stored is what was hashed. */
static char *
install_media (CompanionPhoneStore *self,
               const char          *tmp_path,
               const guint8        *hash,
               GError             **error)
{
  guint8 check[HASH_SIZE];
  g_autofree char *hex = hash_to_hex (hash);
  g_autofree char *final_path = g_build_filename (self->media_dir, hex, NULL);

  if (!hash_file (tmp_path, check, NULL, error))
    {
      g_unlink (tmp_path);
      return NULL;
    }
  if (sodium_memcmp (check, hash, HASH_SIZE) != 0)
    {
      g_unlink (tmp_path);
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA,
                   "Media %s: the stored copy does not match the hash of its source", hex);
      return NULL;
    }
  if (g_file_test (final_path, G_FILE_TEST_EXISTS))
    {
      g_unlink (tmp_path);
      return g_steal_pointer (&hex);
    }
  if (g_rename (tmp_path, final_path) != 0)
    {
      int saved = errno;
      g_unlink (tmp_path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot store media %s: %s", hex, g_strerror (saved));
      return NULL;
    }
  return g_steal_pointer (&hex);
}

static int
open_temporary (CompanionPhoneStore *self,
                char               **path_out,
                GError             **error)
{
  g_autofree char *path = g_build_filename (self->media_dir, ".incoming-XXXXXX", NULL);
  int fd = g_mkstemp_full (path, O_RDWR | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot create a file in “%s”: %s", self->media_dir, g_strerror (saved));
      return -1;
    }
  *path_out = g_steal_pointer (&path);
  return fd;
}

static gboolean
close_temporary (int         fd,
                 const char *path,
                 GError    **error)
{
  if (fsync (fd) != 0 || close (fd) != 0)
    {
      int saved = errno;
      g_unlink (path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot write “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
ensure_private_dir (const char *dir,
                    GError    **error)
{
  struct stat st;

  if (g_mkdir_with_parents (dir, 0700) != 0 || g_stat (dir, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot create “%s”: %s", dir, g_strerror (saved));
      return FALSE;
    }
  if ((st.st_mode & 0077) != 0 && g_chmod (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot make “%s” private: %s", dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
migrate (CompanionPhoneStore *self,
         GError             **error)
{
  sqlite3_stmt *stmt = NULL;
  int version;

  if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK ||
      sqlite3_step (stmt) != SQLITE_ROW)
    {
      sqlite3_finalize (stmt);
      return db_error (self, error, "reading the schema version");
    }
  version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);

  if (version < 0 || (gsize) version > G_N_ELEMENTS (migrations))
    {
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_CORRUPT,
                   "Phone database has schema version %d; this build knows up to %u",
                   version, (guint) G_N_ELEMENTS (migrations));
      return FALSE;
    }

  for (gsize i = (gsize) version; i < G_N_ELEMENTS (migrations); i++)
    {
      /* The version is our own integer, not data. */
      g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %u", (guint) (i + 1));

      if (sqlite3_exec (self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error (self, error, "starting a migration");
      if (sqlite3_exec (self->db, migrations[i], NULL, NULL, NULL) != SQLITE_OK ||
          sqlite3_exec (self->db, set_version, NULL, NULL, NULL) != SQLITE_OK ||
          sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        {
          db_error (self, error, "a schema migration");
          sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
          return FALSE;
        }
    }
  return TRUE;
}

/* The references of each record, checked before it is written. */

static gboolean
check_reference (CompanionPhoneStore *self,
                 StatementId          query,
                 const char          *key,
                 CompanionEntity      entity,
                 const char          *id,
                 const char          *field,
                 const char          *target,
                 GError             **error)
{
  int found = exists (self, query, key, NULL, error);

  if (found < 0)
    return FALSE;
  if (found == 0)
    {
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE,
                   "%s “%s”: “%s” refers to an unknown %s “%s”",
                   companion_entity_to_string (entity), id, field, target, key);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_participants (CompanionPhoneStore *self,
                    CompanionEntity      entity,
                    const char          *id,
                    JsonArray           *participants,
                    GError             **error)
{
  guint n = json_array_get_length (participants);

  for (guint i = 0; i < n; i++)
    if (!check_reference (self, S_CONTACT_EXISTS, json_array_get_string_element (participants, i),
                          entity, id, "participants", "contact", error))
      return FALSE;
  return TRUE;
}

static gboolean
write_participants (CompanionPhoneStore *self,
                    StatementId          delete_id,
                    StatementId          insert_id,
                    const char          *owner,
                    JsonArray           *participants,
                    GError             **error)
{
  guint n = json_array_get_length (participants);
  g_autoptr(UsedStatement) del = use (self, delete_id);

  bind_text (del, 1, owner);
  if (!run (self, del, error, "removing participants"))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(UsedStatement) ins = use (self, insert_id);

      bind_text (ins, 1, owner);
      bind_text (ins, 2, json_array_get_string_element (participants, i));
      if (!run (self, ins, error, "adding a participant"))
        return FALSE;
    }
  return TRUE;
}

static gboolean
log_change (CompanionPhoneStore *self,
            guint64              seq,
            CompanionEntity      entity,
            const char          *id,
            const char          *record,
            GError             **error)
{
  g_autoptr(UsedStatement) stmt = use (self, S_LOG);

  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) seq);
  bind_text (stmt, 2, companion_entity_to_string (entity));
  bind_text (stmt, 3, id);
  bind_text (stmt, 4, record != NULL ? "upsert" : "delete");
  bind_text (stmt, 5, record);
  return run (self, stmt, error, "writing the change log");
}

static gboolean
upsert_message (CompanionPhoneStore *self,
                const char          *id,
                JsonObject          *record,
                const char          *canonical,
                GError             **error)
{
  const char *chat = json_object_get_string_member (record, "chat");
  const char *from = json_object_get_string_member_with_default (record, "from", NULL);
  const char *media = json_object_get_string_member_with_default (record, "media", NULL);
  const char *reply_to = json_object_get_string_member_with_default (record, "reply_to", NULL);
  g_autoptr(UsedStatement) stmt = NULL;

  if (!check_reference (self, S_CHAT_EXISTS, chat, COMPANION_ENTITY_MESSAGE, id, "chat", "chat", error))
    return FALSE;
  if (from != NULL &&
      !check_reference (self, S_CONTACT_EXISTS, from, COMPANION_ENTITY_MESSAGE, id, "from", "contact", error))
    return FALSE;
  if (media != NULL &&
      !check_reference (self, S_MEDIA_EXISTS, media, COMPANION_ENTITY_MESSAGE, id, "media", "media", error))
    return FALSE;
  if (reply_to != NULL)
    {
      g_autofree char *reply_chat = NULL;
      int found = exists (self, S_MESSAGE_CHAT, reply_to, &reply_chat, error);

      if (found < 0)
        return FALSE;
      if (found == 0 || g_strcmp0 (reply_chat, chat) != 0)
        {
          g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE,
                       "message “%s”: “reply_to” refers to %s “%s”", id,
                       found == 0 ? "an unknown message" : "a message of another chat", reply_to);
          return FALSE;
        }
    }
  if (json_object_has_member (record, "reactions") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (record, "reactions")))
    {
      JsonObject *reactions = json_object_get_object_member (record, "reactions");
      JsonObjectIter iter;
      const char *who;

      json_object_iter_init (&iter, reactions);
      while (json_object_iter_next (&iter, &who, NULL))
        if (!g_str_equal (who, "me") &&
            !check_reference (self, S_CONTACT_EXISTS, who, COMPANION_ENTITY_MESSAGE, id,
                              "reactions", "contact", error))
          return FALSE;
    }

  stmt = use (self, S_UPSERT_MESSAGE);
  bind_text (stmt, 1, id);
  bind_text (stmt, 2, chat);
  bind_text (stmt, 3, from);
  sqlite3_bind_int64 (stmt, 4, json_object_get_int_member (record, "time"));
  bind_text (stmt, 5, media);
  bind_text (stmt, 6, canonical);
  return run (self, stmt, error, "writing a message");
}

static gboolean
upsert_record (CompanionPhoneStore *self,
               CompanionEntity      entity,
               const char          *id,
               JsonObject          *record,
               const char          *canonical,
               GError             **error)
{
  g_autoptr(UsedStatement) stmt = NULL;

  switch (entity)
    {
    case COMPANION_ENTITY_CONTACT:
      stmt = use (self, S_UPSERT_CONTACT);
      bind_text (stmt, 1, id);
      bind_text (stmt, 2, canonical);
      return run (self, stmt, error, "writing a contact");

    case COMPANION_ENTITY_CHAT:
      {
        JsonArray *participants = json_object_get_array_member (record, "participants");

        if (!check_participants (self, entity, id, participants, error))
          return FALSE;
        stmt = use (self, S_UPSERT_CHAT);
        bind_text (stmt, 1, id);
        bind_text (stmt, 2, canonical);
        return run (self, stmt, error, "writing a chat") &&
               write_participants (self, S_DELETE_CHAT_PARTICIPANTS, S_INSERT_CHAT_PARTICIPANT,
                                   id, participants, error);
      }

    case COMPANION_ENTITY_MESSAGE:
      return upsert_message (self, id, record, canonical, error);

    case COMPANION_ENTITY_MEDIA:
      {
        g_autofree char *path = g_build_filename (self->media_dir, id, NULL);
        gint64 size = json_object_get_int_member (record, "size");
        GStatBuf st;

        if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
          {
            g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA,
                         "media “%s”: no such file in the phone's media folder", id);
            return FALSE;
          }
        if ((gint64) st.st_size != size)
          {
            g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA,
                         "media “%s”: “size” is %" G_GINT64_FORMAT " but the file has %" G_GINT64_FORMAT " bytes",
                         id, size, (gint64) st.st_size);
            return FALSE;
          }
        stmt = use (self, S_UPSERT_MEDIA);
        bind_text (stmt, 1, id);
        bind_text (stmt, 2, canonical);
        return run (self, stmt, error, "writing media");
      }

    case COMPANION_ENTITY_CALL:
      {
        JsonArray *participants = json_object_get_array_member (record, "participants");

        if (!check_participants (self, entity, id, participants, error))
          return FALSE;
        stmt = use (self, S_UPSERT_CALL);
        bind_text (stmt, 1, id);
        sqlite3_bind_int64 (stmt, 2, json_object_get_int_member (record, "time"));
        bind_text (stmt, 3, canonical);
        return run (self, stmt, error, "writing a call") &&
               write_participants (self, S_DELETE_CALL_PARTICIPANTS, S_INSERT_CALL_PARTICIPANT,
                                   id, participants, error);
      }

    case COMPANION_N_ENTITIES:
    default:
      break;
    }
  g_assert_not_reached ();
}

static gboolean
refuse_if_used (CompanionPhoneStore *self,
                StatementId          query,
                CompanionEntity      entity,
                const char          *id,
                const char          *user,
                GError             **error)
{
  g_autofree char *user_id = NULL;
  int found = exists (self, query, id, &user_id, error);

  if (found < 0)
    return FALSE;
  if (found > 0)
    {
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_IN_USE,
                   "%s “%s” cannot be deleted: %s “%s” refers to it",
                   companion_entity_to_string (entity), id, user, user_id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
delete_by_id (CompanionPhoneStore *self,
              StatementId          id_statement,
              const char          *id,
              GError             **error)
{
  g_autoptr(UsedStatement) stmt = use (self, id_statement);

  bind_text (stmt, 1, id);
  return run (self, stmt, error, "deleting a record");
}

static gboolean
delete_record (CompanionPhoneStore *self,
               CompanionEntity      entity,
               const char          *id,
               guint64             *seq,
               GError             **error)
{
  switch (entity)
    {
    case COMPANION_ENTITY_CONTACT:
      return refuse_if_used (self, S_CONTACT_IN_CHAT, entity, id, "chat", error) &&
             refuse_if_used (self, S_CONTACT_IN_MESSAGE, entity, id, "message", error) &&
             refuse_if_used (self, S_CONTACT_IN_CALL, entity, id, "call", error) &&
             refuse_if_used (self, S_CONTACT_IN_REACTION, entity, id, "a reaction on message", error) &&
             delete_by_id (self, S_DELETE_CONTACT, id, error);

    case COMPANION_ENTITY_CHAT:
      {
        /* Its messages go first, each logged, oldest first. */
        g_autoptr(UsedStatement) stmt = use (self, S_CHAT_MESSAGE_IDS);
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
        int rc;

        bind_text (stmt, 1, id);
        while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
          g_ptr_array_add (ids, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
        if (rc != SQLITE_DONE)
          return db_error (self, error, "listing a chat's messages");
        for (guint i = 0; i < ids->len; i++)
          if (!log_change (self, ++*seq, COMPANION_ENTITY_MESSAGE, g_ptr_array_index (ids, i), NULL, error))
            return FALSE;
        return delete_by_id (self, S_DELETE_CHAT_MESSAGES, id, error) &&
               delete_by_id (self, S_DELETE_CHAT, id, error);
      }

    case COMPANION_ENTITY_MESSAGE:
      return delete_by_id (self, S_DELETE_MESSAGE, id, error);

    case COMPANION_ENTITY_MEDIA:
      /* The file stays: content-addressed, it may come back. */
      return refuse_if_used (self, S_MEDIA_IN_MESSAGE, entity, id, "message", error) &&
             delete_by_id (self, S_DELETE_MEDIA, id, error);

    case COMPANION_ENTITY_CALL:
      return delete_by_id (self, S_DELETE_CALL, id, error);

    case COMPANION_N_ENTITIES:
    default:
      break;
    }
  g_assert_not_reached ();
}

static gboolean
apply_one (CompanionPhoneStore *self,
           CompanionChange     *change,
           guint64             *seq,
           GError             **error)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *canonical = NULL;
  const char *id;

  if ((guint) change->entity >= COMPANION_N_ENTITIES)
    {
      g_set_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_UNKNOWN_ENTITY,
                   "A change has an unknown entity");
      return FALSE;
    }

  if (change->is_delete)
    {
      if (change->id == NULL || *change->id == '\0')
        {
          g_set_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_CHANGE,
                       "A delete of a %s has no id", companion_entity_to_string (change->entity));
          return FALSE;
        }
      if (!delete_record (self, change->entity, change->id, seq, error))
        return FALSE;
      return log_change (self, ++*seq, change->entity, change->id, NULL, error);
    }

  if (change->record == NULL)
    {
      g_set_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_CHANGE,
                   "An upsert of a %s has no record", companion_entity_to_string (change->entity));
      return FALSE;
    }
  if (!companion_record_validate (change->entity, change->record, error))
    return FALSE;
  id = companion_record_get_id (change->entity, change->record);
  g_assert (id != NULL);

  node = json_node_init_object (json_node_alloc (), change->record);
  canonical = companion_canonical_json (node, NULL);
  if (!upsert_record (self, change->entity, id, change->record, canonical, error))
    return FALSE;
  return log_change (self, ++*seq, change->entity, id, canonical, error);
}

static gint64
read_integer (CompanionPhoneStore *self,
              StatementId          id,
              GError             **error)
{
  g_autoptr(UsedStatement) stmt = use (self, id);

  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      db_error (self, error, statement_sql[id]);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* GObject */

static void
companion_phone_store_finalize (GObject *object)
{
  CompanionPhoneStore *self = COMPANION_PHONE_STORE (object);

  for (guint i = 0; i < N_STATEMENTS; i++)
    g_clear_pointer (&self->statements[i], sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);
  g_clear_pointer (&self->state_dir, g_free);
  g_clear_pointer (&self->media_dir, g_free);

  G_OBJECT_CLASS (companion_phone_store_parent_class)->finalize (object);
}

static void
companion_phone_store_class_init (CompanionPhoneStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_phone_store_finalize;
}

static void
companion_phone_store_init (CompanionPhoneStore *self)
{
}

/* Public API */

CompanionPhoneStore *
companion_phone_store_open (const char *state_dir,
                            GError    **error)
{
  g_autoptr(CompanionPhoneStore) self = NULL;
  g_autofree char *path = NULL;
  int fd;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (COMPANION_TYPE_PHONE_STORE, NULL);
  self->state_dir = g_strdup (state_dir);
  self->media_dir = g_build_filename (state_dir, COMPANION_PHONE_STORE_MEDIA_DIR, NULL);
  if (!ensure_private_dir (state_dir, error) || !ensure_private_dir (self->media_dir, error))
    return NULL;

  /* Created 0600 before SQLite opens it; its -wal and -shm take the same mode. */
  path = g_build_filename (state_dir, COMPANION_PHONE_STORE_FILENAME, NULL);
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot open “%s”: %s", path, g_strerror (saved));
      return NULL;
    }
  close (fd);

  if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    {
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_FAILED,
                   "Cannot open the phone database “%s”: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : "out of memory");
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT);
  if (sqlite3_exec (self->db,
                    "PRAGMA journal_mode = WAL;"
                    "PRAGMA synchronous = NORMAL;"
                    "PRAGMA foreign_keys = ON;"
                    "PRAGMA journal_size_limit = 67108864;"
                    "PRAGMA cache_size = -32768;",
                    NULL, NULL, NULL) != SQLITE_OK)
    {
      db_error (self, error, "setting up the connection");
      return NULL;
    }
  if (!migrate (self, error))
    return NULL;

  for (guint i = 0; i < N_STATEMENTS; i++)
    if (sqlite3_prepare_v3 (self->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                            &self->statements[i], NULL) != SQLITE_OK)
      {
        db_error (self, error, statement_sql[i]);
        return NULL;
      }

  return g_steal_pointer (&self);
}

const char *
companion_phone_store_get_state_dir (CompanionPhoneStore *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  return self->state_dir;
}

guint64
companion_phone_store_apply (CompanionPhoneStore *self,
                             GPtrArray           *changes,
                             GError             **error)
{
  gint64 last;
  guint64 seq;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), 0);
  g_return_val_if_fail (changes != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!run_simple (self, S_BEGIN_WRITE, error))
    return 0;
  last = read_integer (self, S_MAX_SEQ, error);
  if (last < 0)
    {
      rollback (self);
      return 0;
    }
  seq = (guint64) last;

  for (guint i = 0; i < changes->len; i++)
    if (!apply_one (self, g_ptr_array_index (changes, i), &seq, error))
      {
        rollback (self);
        return 0;
      }

  if (!run_simple (self, S_COMMIT, error))
    {
      rollback (self);
      return 0;
    }
  return seq;
}

char *
companion_phone_store_add_media_file (CompanionPhoneStore *self,
                                      const char          *path,
                                      GError             **error)
{
  crypto_generichash_state state;
  guint8 hash[HASH_SIZE];
  g_autofree guint8 *buffer = NULL;
  g_autofree char *tmp_path = NULL;
  int in, out;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  in = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (in < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot open “%s”: %s", path, g_strerror (saved));
      return NULL;
    }
  out = open_temporary (self, &tmp_path, error);
  if (out < 0)
    {
      close (in);
      return NULL;
    }

  buffer = g_malloc (COPY_BUFFER);
  crypto_generichash_init (&state, NULL, 0, HASH_SIZE);
  for (;;)
    {
      ssize_t n = read (in, buffer, COPY_BUFFER);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || (n > 0 && !write_all (out, buffer, (gsize) n)))
        {
          int saved = errno;
          close (in);
          close (out);
          g_unlink (tmp_path);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Cannot copy “%s” into the media folder: %s", path, g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      crypto_generichash_update (&state, buffer, (unsigned long long) n);
    }
  close (in);
  crypto_generichash_final (&state, hash, HASH_SIZE);
  if (!close_temporary (out, tmp_path, error))
    return NULL;
  return install_media (self, tmp_path, hash, error);
}

char *
companion_phone_store_add_media_bytes (CompanionPhoneStore *self,
                                       GBytes              *bytes,
                                       GError             **error)
{
  guint8 hash[HASH_SIZE];
  g_autofree char *tmp_path = NULL;
  gsize length;
  const guint8 *data;
  int out;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);
  g_return_val_if_fail (bytes != NULL, NULL);

  data = g_bytes_get_data (bytes, &length);
  crypto_generichash (hash, HASH_SIZE, data, length, NULL, 0);
  out = open_temporary (self, &tmp_path, error);
  if (out < 0)
    return NULL;
  if (!write_all (out, data, length))
    {
      int saved = errno;
      close (out);
      g_unlink (tmp_path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot write into the media folder: %s", g_strerror (saved));
      return NULL;
    }
  if (!close_temporary (out, tmp_path, error))
    return NULL;
  return install_media (self, tmp_path, hash, error);
}

char *
companion_phone_store_get_media_path (CompanionPhoneStore *self,
                                      const char          *hash)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  if (!is_hash (hash))
    return NULL;
  return g_build_filename (self->media_dir, hash, NULL);
}

gboolean
companion_phone_store_keep_media_file (CompanionPhoneStore *self,
                                       const char          *path,
                                       const char          *hash,
                                       GError             **error)
{
  guint8 digest[HASH_SIZE];
  g_autofree char *hex = NULL;
  g_autofree char *final_path = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!is_hash (hash))
    {
      g_unlink (path);
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA,
                   "“%.80s” is not a media hash (64 lowercase hex digits)", hash);
      return FALSE;
    }
  if (!hash_file (path, digest, NULL, error))
    {
      g_unlink (path);
      return FALSE;
    }
  hex = hash_to_hex (digest);
  if (!g_str_equal (hex, hash))
    {
      g_unlink (path);
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA,
                   "its bytes hash to %s, not %s", hex, hash);
      return FALSE;
    }
  final_path = g_build_filename (self->media_dir, hash, NULL);
  if (g_rename (path, final_path) != 0)
    {
      int saved = errno;
      g_unlink (path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot store media %s: %s", hash, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

int
companion_phone_store_has_media (CompanionPhoneStore *self,
                                 const char          *hash,
                                 GError             **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), -1);

  if (!is_hash (hash))
    return 0;
  return exists (self, S_MEDIA_EXISTS, hash, NULL, error);
}

guint64
companion_phone_store_get_last_seq (CompanionPhoneStore *self)
{
  gint64 last;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), 0);

  last = read_integer (self, S_MAX_SEQ, NULL);
  return last > 0 ? (guint64) last : 0;
}

GPtrArray *
companion_phone_store_get_changes_after (CompanionPhoneStore *self,
                                         guint64              seq,
                                         guint                limit,
                                         GError             **error)
{
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g_autoptr(UsedStatement) stmt = NULL;
  int rc;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  stmt = use (self, S_CHANGES_AFTER);
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) MIN (seq, (guint64) G_MAXINT64));
  sqlite3_bind_int64 (stmt, 2, limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      guint64 row_seq = (guint64) sqlite3_column_int64 (stmt, 0);
      const char *entity_name = (const char *) sqlite3_column_text (stmt, 1);
      const char *id = (const char *) sqlite3_column_text (stmt, 2);
      const char *op = (const char *) sqlite3_column_text (stmt, 3);
      CompanionEntity entity;

      if (entity_name == NULL || id == NULL || op == NULL ||
          !companion_entity_from_string (entity_name, &entity))
        {
          g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_CORRUPT,
                       "Phone database: change %" G_GUINT64_FORMAT " is malformed", row_seq);
          return NULL;
        }
      if (g_str_equal (op, "delete"))
        g_ptr_array_add (changes, companion_change_new_delete (row_seq, entity, id));
      else
        {
          g_autoptr(JsonObject) record = column_record (stmt, 4, error);

          if (record == NULL)
            return NULL;
          g_ptr_array_add (changes, companion_change_new_upsert (row_seq, entity, record));
        }
    }
  if (rc != SQLITE_DONE)
    {
      db_error (self, error, "reading the change log");
      return NULL;
    }
  return g_steal_pointer (&changes);
}

gboolean
companion_phone_store_is_empty (CompanionPhoneStore *self,
                                GError             **error)
{
  static const StatementId counts[] = {
    S_COUNT_CONTACTS, S_COUNT_CHATS, S_COUNT_MESSAGES, S_COUNT_MEDIA, S_COUNT_CALLS, S_COUNT_CHANGES,
  };

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      g_autoptr(GError) local_error = NULL;
      gint64 n = read_integer (self, counts[i], &local_error);

      if (n < 0)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (n > 0)
        return FALSE;
    }
  return TRUE;
}

gint64
companion_phone_store_count (CompanionPhoneStore *self,
                             CompanionEntity      entity,
                             GError             **error)
{
  static const StatementId counts[COMPANION_N_ENTITIES] = {
    [COMPANION_ENTITY_CONTACT] = S_COUNT_CONTACTS,
    [COMPANION_ENTITY_CHAT] = S_COUNT_CHATS,
    [COMPANION_ENTITY_MESSAGE] = S_COUNT_MESSAGES,
    [COMPANION_ENTITY_MEDIA] = S_COUNT_MEDIA,
    [COMPANION_ENTITY_CALL] = S_COUNT_CALLS,
  };

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), -1);
  g_return_val_if_fail ((guint) entity < COMPANION_N_ENTITIES, -1);

  return read_integer (self, counts[entity], error);
}

GPtrArray *
companion_phone_store_list_contacts (CompanionPhoneStore *self,
                                     GError             **error)
{
  g_autoptr(UsedStatement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  stmt = use (self, S_LIST_CONTACTS);
  return collect_records (self, stmt, 0, error);
}

GPtrArray *
companion_phone_store_list_chats (CompanionPhoneStore *self,
                                  GPtrArray          **last_messages_out,
                                  GError             **error)
{
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GPtrArray) last_messages = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  if (!run_simple (self, S_BEGIN_READ, error))
    return NULL;
  {
    g_autoptr(UsedStatement) stmt = use (self, S_LIST_CHATS);
    chats = collect_records (self, stmt, 1, error);
  }
  if (chats != NULL && last_messages_out != NULL)
    {
      last_messages = g_ptr_array_new_full (chats->len, (GDestroyNotify) json_object_unref);
      for (guint i = 0; i < chats->len; i++)
        {
          g_autoptr(UsedStatement) stmt = use (self, S_LAST_MESSAGE);
          g_autoptr(GPtrArray) found = NULL;
          const char *chat = json_object_get_string_member (g_ptr_array_index (chats, i), "id");

          bind_text (stmt, 1, chat);
          found = collect_records (self, stmt, 0, error);
          if (found == NULL)
            {
              g_clear_pointer (&chats, g_ptr_array_unref);
              break;
            }
          g_ptr_array_add (last_messages,
                           found->len > 0 ? json_object_ref (g_ptr_array_index (found, 0)) : NULL);
        }
    }
  run_simple (self, S_COMMIT, NULL);
  if (chats == NULL)
    return NULL;
  if (last_messages_out != NULL)
    *last_messages_out = g_steal_pointer (&last_messages);
  return g_steal_pointer (&chats);
}

GPtrArray *
companion_phone_store_list_messages_before (CompanionPhoneStore *self,
                                            gint64               before_time,
                                            const char          *before_id,
                                            guint                limit,
                                            GError             **error)
{
  g_autoptr(UsedStatement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  if (before_id == NULL)
    {
      stmt = use (self, S_MESSAGES_NEWEST);
      sqlite3_bind_int64 (stmt, 1, limit);
    }
  else
    {
      stmt = use (self, S_MESSAGES_BEFORE);
      sqlite3_bind_int64 (stmt, 1, before_time);
      bind_text (stmt, 2, before_id);
      sqlite3_bind_int64 (stmt, 3, limit);
    }
  return collect_records (self, stmt, 0, error);
}

void
companion_record_text_free (CompanionRecordText *text)
{
  if (text == NULL)
    return;
  g_free (text->json);
  g_free (text->key);
  g_free (text);
}

/* Steps STMT (key, time, record[, other key]) and adds each row as stored
 * to TEXTS; the other keys that are not NULL go to OTHER_KEYS if given. */
static gboolean
collect_texts_into (CompanionPhoneStore *self,
                    sqlite3_stmt        *stmt,
                    GPtrArray           *texts,
                    GHashTable          *other_keys,
                    GError             **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *key = (const char *) sqlite3_column_text (stmt, 0);
      const char *json = (const char *) sqlite3_column_text (stmt, 2);
      CompanionRecordText *text;

      if (key == NULL || json == NULL)
        {
          g_set_error_literal (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_CORRUPT,
                               "Phone database: a stored record is missing");
          return FALSE;
        }
      text = g_new (CompanionRecordText, 1);
      text->key = g_strdup (key);
      text->time = sqlite3_column_int64 (stmt, 1);
      text->length = (gsize) sqlite3_column_bytes (stmt, 2);
      text->json = g_strndup (json, text->length);
      g_ptr_array_add (texts, text);
      if (other_keys != NULL && sqlite3_column_type (stmt, 3) == SQLITE_TEXT)
        g_hash_table_add (other_keys, g_strdup ((const char *) sqlite3_column_text (stmt, 3)));
    }
  if (rc != SQLITE_DONE)
    {
      db_error (self, error, "reading records");
      return FALSE;
    }
  return TRUE;
}

static GPtrArray *
collect_texts (CompanionPhoneStore *self,
               sqlite3_stmt        *stmt,
               GError             **error)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_record_text_free);

  if (!collect_texts_into (self, stmt, texts, NULL, error))
    return NULL;
  return g_steal_pointer (&texts);
}

GPtrArray *
companion_phone_store_read_texts (CompanionPhoneStore *self,
                                  CompanionEntity      entity,
                                  gint64               before_time,
                                  const char          *after_key,
                                  guint                limit,
                                  GError             **error)
{
  static const StatementId first[COMPANION_N_ENTITIES] = {
    [COMPANION_ENTITY_CONTACT] = S_TEXT_CONTACTS,
    [COMPANION_ENTITY_CHAT] = S_TEXT_CHATS,
    [COMPANION_ENTITY_MESSAGE] = S_TEXT_MESSAGES_NEWEST,
    [COMPANION_ENTITY_MEDIA] = S_TEXT_MEDIA_FIRST,
    [COMPANION_ENTITY_CALL] = S_TEXT_CALLS_FIRST,
  };
  static const StatementId after[COMPANION_N_ENTITIES] = {
    [COMPANION_ENTITY_CONTACT] = S_TEXT_CONTACTS,
    [COMPANION_ENTITY_CHAT] = S_TEXT_CHATS,
    [COMPANION_ENTITY_MESSAGE] = S_TEXT_MESSAGES_BEFORE,
    [COMPANION_ENTITY_MEDIA] = S_TEXT_MEDIA_AFTER,
    [COMPANION_ENTITY_CALL] = S_TEXT_CALLS_AFTER,
  };
  g_autoptr(UsedStatement) stmt = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);
  g_return_val_if_fail ((guint) entity < COMPANION_N_ENTITIES, NULL);

  /* Contacts and chats come whole: there are few, and the previews must
   * match the chats read. Unused parameters are simply not bound. */
  stmt = use (self, after_key == NULL ? first[entity] : after[entity]);
  if (sqlite3_bind_parameter_count (stmt) >= 3)
    {
      sqlite3_bind_int64 (stmt, 1, before_time);
      bind_text (stmt, 2, after_key);
      sqlite3_bind_int64 (stmt, 3, limit > 0 ? (sqlite3_int64) limit : -1);
    }
  return collect_texts (self, stmt, error);
}

GPtrArray *
companion_phone_store_read_chat_texts (CompanionPhoneStore *self,
                                       GPtrArray          **previews_out,
                                       GPtrArray          **preview_media_out,
                                       GError             **error)
{
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GPtrArray) previews = NULL;
  g_autoptr(GPtrArray) preview_media = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);
  g_return_val_if_fail (previews_out != NULL && preview_media_out != NULL, NULL);

  /* One read transaction: every preview's chat is among the chats. The
   * previews name their media, looked up one by one: finding each chat's
   * newest message again would read as much of a large history twice. */
  if (!run_simple (self, S_BEGIN_READ, error))
    return NULL;
  {
    g_autoptr(UsedStatement) stmt = use (self, S_TEXT_CHATS);
    chats = collect_texts (self, stmt, error);
  }
  if (chats != NULL)
    {
      g_autoptr(UsedStatement) stmt = use (self, S_TEXT_PREVIEWS);
      g_autoptr(GHashTable) hashes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autofree const char **sorted = NULL;
      guint n = 0;

      previews = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_record_text_free);
      preview_media = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_record_text_free);
      if (!collect_texts_into (self, stmt, previews, hashes, error))
        g_clear_pointer (&preview_media, g_ptr_array_unref);
      else
        {
          sorted = (const char **) g_hash_table_get_keys_as_array (hashes, &n);
          qsort (sorted, n, sizeof *sorted, companion_compare_strings);
        }
      for (guint i = 0; i < n && preview_media != NULL; i++)
        {
          g_autoptr(UsedStatement) media = use (self, S_TEXT_PREVIEW_MEDIA);

          bind_text (media, 1, sorted[i]);
          if (!collect_texts_into (self, media, preview_media, NULL, error))
            g_clear_pointer (&preview_media, g_ptr_array_unref);
        }
    }
  run_simple (self, S_COMMIT, NULL);
  if (preview_media == NULL)
    return NULL;
  *previews_out = g_steal_pointer (&previews);
  *preview_media_out = g_steal_pointer (&preview_media);
  return g_steal_pointer (&chats);
}

static GPtrArray *
list_after (CompanionPhoneStore *self,
            StatementId          first,
            StatementId          after,
            const char          *after_key,
            guint                limit,
            GError             **error)
{
  g_autoptr(UsedStatement) stmt = NULL;

  if (after_key == NULL)
    {
      stmt = use (self, first);
      sqlite3_bind_int64 (stmt, 1, limit);
    }
  else
    {
      stmt = use (self, after);
      bind_text (stmt, 1, after_key);
      sqlite3_bind_int64 (stmt, 2, limit);
    }
  return collect_records (self, stmt, 0, error);
}

GPtrArray *
companion_phone_store_list_calls (CompanionPhoneStore *self,
                                  const char          *after_id,
                                  guint                limit,
                                  GError             **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  return list_after (self, S_CALLS_FIRST, S_CALLS_AFTER, after_id, limit, error);
}

GPtrArray *
companion_phone_store_list_media (CompanionPhoneStore *self,
                                  const char          *after_hash,
                                  guint                limit,
                                  GError             **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  return list_after (self, S_MEDIA_FIRST, S_MEDIA_AFTER, after_hash, limit, error);
}

static gboolean
export_table (CompanionPhoneStore *self,
              CompanionExport     *export,
              CompanionEntity      entity,
              StatementId          id,
              int                  column,
              GError             **error)
{
  g_autoptr(UsedStatement) stmt = use (self, id);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(JsonObject) record = column_record (stmt, column, error);

      if (record == NULL)
        return FALSE;
      companion_export_add (export, entity, record);
    }
  if (rc != SQLITE_DONE)
    return db_error (self, error, "reading records");
  return TRUE;
}

CompanionExport *
companion_phone_store_export (CompanionPhoneStore *self,
                              GError             **error)
{
  g_autoptr(CompanionExport) export = companion_export_new ();
  gboolean ok;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (self), NULL);

  if (!run_simple (self, S_BEGIN_READ, error))
    return NULL;
  ok = export_table (self, export, COMPANION_ENTITY_CONTACT, S_LIST_CONTACTS, 0, error) &&
       export_table (self, export, COMPANION_ENTITY_CHAT, S_LIST_CHATS, 1, error) &&
       export_table (self, export, COMPANION_ENTITY_MEDIA, S_ALL_MEDIA, 0, error) &&
       export_table (self, export, COMPANION_ENTITY_MESSAGE, S_ALL_MESSAGES, 0, error) &&
       export_table (self, export, COMPANION_ENTITY_CALL, S_ALL_CALLS, 0, error);
  run_simple (self, S_COMMIT, NULL);
  if (!ok)
    return NULL;
  return g_steal_pointer (&export);
}
