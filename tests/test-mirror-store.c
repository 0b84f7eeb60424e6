/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "companion-mirror-store.h"
#include "companion-record.h"
#include "test-util.h"

/* BLAKE2b-256 of "hello" and of "world". */
#define HASH_HELLO "324dcf027dd4a30a932c441f365a25e86b173defa4b8e58948253471b81b72cf"
#define HASH_WORLD "9a3440c9d1529b122faceef33739b6e814616658d53faaf6e4f129fb20edfb13"

typedef struct
{
  char                 *dir;
  CompanionMirrorStore *store;
} Fixture;

/* JSON written with ' for ", so the records below stay readable. */
static JsonObject *
object_from (const char *text)
{
  g_autofree char *json = g_strdup (text);

  g_strdelimit (json, "'", '"');
  return test_util_json_object (json);
}

static CompanionChange *
upsert (guint64          seq,
        CompanionEntity  entity,
        const char      *text)
{
  g_autoptr(JsonObject) record = object_from (text);

  return companion_change_new_upsert (seq, entity, record);
}

static CompanionChange *
delete (guint64          seq,
        CompanionEntity  entity,
        const char      *id)
{
  return companion_change_new_delete (seq, entity, id);
}

/* A batch of the changes given, NULL-terminated. */
static GPtrArray *
batch (CompanionChange *first,
       ...)
{
  GPtrArray *changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  va_list args;

  va_start (args, first);
  for (CompanionChange *c = first; c != NULL; c = va_arg (args, CompanionChange *))
    g_ptr_array_add (changes, c);
  va_end (args);
  return changes;
}

static GPtrArray *
records (const char *first,
         ...)
{
  GPtrArray *array = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  va_list args;

  va_start (args, first);
  for (const char *r = first; r != NULL; r = va_arg (args, const char *))
    g_ptr_array_add (array, object_from (r));
  va_end (args);
  return array;
}

static void
apply_ok (CompanionMirrorStore *store,
          GPtrArray            *changes)
{
  g_autoptr(GPtrArray) owned = changes;
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_mirror_store_apply_changes (store, owned, &error));
  g_assert_no_error (error);
}

#define CONTACT_1 "{'id':'c-1','name':'Ana','phone':'+1 555'}"
#define CONTACT_2 "{'id':'c-2','name':'Bo'}"
#define CHAT_1    "{'id':'ch-1','kind':'direct','title':'Ana','participants':['c-1'],'unread':0," \
                  "'pinned':false,'muted':false,'archived':false}"
#define CHAT_2    "{'id':'ch-2','kind':'group','title':'Team','participants':['c-1','c-2']," \
                  "'unread':2,'pinned':false,'muted':true,'archived':false}"
#define MEDIA_1   "{'hash':'" HASH_HELLO "','kind':'image','mime':'image/png','name':'cat.png'," \
                  "'size':5,'width':10,'height':12}"
#define MESSAGE_1 "{'id':'m-1','chat':'ch-1','from':'c-1','time':1000,'text':'Café au lait?'," \
                  "'deleted':false,'reactions':{'me':'👍'}}"
#define MESSAGE_2 "{'id':'m-2','chat':'ch-1','time':2000,'text':'Sure','status':'read'," \
                  "'reply_to':'m-1','deleted':false}"
#define MESSAGE_3 "{'id':'m-3','chat':'ch-2','from':'c-2','time':1500,'text':'','media':'" \
                  HASH_HELLO "','deleted':false}"
#define CALL_1    "{'id':'k-1','kind':'voice','direction':'incoming','missed':true,'time':500," \
                  "'duration_s':0,'participants':['c-1']}"

/* Seqs 1–9. */
static void
apply_base (CompanionMirrorStore *store)
{
  apply_ok (store, batch (upsert (1, COMPANION_ENTITY_CONTACT, CONTACT_1),
                          upsert (2, COMPANION_ENTITY_CONTACT, CONTACT_2),
                          upsert (3, COMPANION_ENTITY_CHAT, CHAT_1),
                          upsert (4, COMPANION_ENTITY_CHAT, CHAT_2),
                          upsert (5, COMPANION_ENTITY_MEDIA, MEDIA_1),
                          upsert (6, COMPANION_ENTITY_MESSAGE, MESSAGE_1),
                          upsert (7, COMPANION_ENTITY_MESSAGE, MESSAGE_2),
                          upsert (8, COMPANION_ENTITY_MESSAGE, MESSAGE_3),
                          upsert (9, COMPANION_ENTITY_CALL, CALL_1),
                          NULL));
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("test-mirror-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->store = companion_mirror_store_open (fixture->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->store);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  if (fixture->store != NULL)
    g_assert_finalize_object (fixture->store);
  test_util_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static void
reopen (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  g_assert_finalize_object (fixture->store);
  fixture->store = companion_mirror_store_open (fixture->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->store);
}

/* Runs SQL on the database through a second connection, as another process would. */
static void
raw_exec (Fixture    *fixture,
          const char *sql)
{
  g_autofree char *path = g_build_filename (fixture->dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
  sqlite3_close (db);
}

static gint64
count (Fixture         *fixture,
       CompanionEntity  entity)
{
  g_autoptr(GError) error = NULL;
  gint64 n = companion_mirror_store_count (fixture->store, entity, &error);

  g_assert_no_error (error);
  return n;
}

static char *
export_string (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionExport) export = companion_mirror_store_export (fixture->store, &error);

  g_assert_no_error (error);
  g_assert_nonnull (export);
  return companion_export_to_string (export, NULL);
}

/* "id@preview" of each chat in list order, joined by " | ". */
static char *
chat_list (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) chats = companion_mirror_store_list_chats (fixture->store, 0, 0, &error);
  g_autoptr(GString) out = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < chats->len; i++)
    {
      CompanionMirrorChat *chat = g_ptr_array_index (chats, i);

      g_string_append_printf (out, "%s%s@%" G_GINT64_FORMAT ":%s", i > 0 ? " | " : "",
                              json_object_get_string_member (chat->record, "id"),
                              chat->last_message_time, chat->last_message_preview);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* "message-id:chat-id:snippet" of each hit, joined by " | ". */
static char *
search (Fixture    *fixture,
        const char *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = companion_mirror_store_search (fixture->store, query, "[", "]", 0,
                                                              &error);
  g_autoptr(GString) out = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < hits->len; i++)
    {
      CompanionMirrorSearchHit *hit = g_ptr_array_index (hits, i);

      g_string_append_printf (out, "%s%s:%s:%s", i > 0 ? " | " : "",
                              hit->message_id, hit->chat_id, hit->snippet);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

#define assert_search(fixture, query, expected) \
  G_STMT_START { \
    g_autofree char *found_ = search (fixture, query); \
    g_assert_cmpstr (found_, ==, expected); \
  } G_STMT_END

static gint64
user_version (Fixture *fixture)
{
  g_autofree char *path = g_build_filename (fixture->dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 version;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  version = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return version;
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

/* Migrations */

static void
test_migrations_fresh (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *db_path = g_build_filename (fixture->dir, "mirror.db", NULL);
  g_autofree char *media_dir = g_build_filename (fixture->dir, "media", NULL);
  g_autofree char *progress = NULL;

  g_assert_cmpint (user_version (fixture), ==, COMPANION_MIRROR_STORE_SCHEMA_VERSION);
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 0);
  g_assert_cmpint (companion_mirror_store_get_last_sync (fixture->store), ==, 0);
  for (CompanionEntity e = 0; e < COMPANION_N_ENTITIES; e++)
    g_assert_cmpint (count (fixture, e), ==, 0);
  progress = companion_mirror_store_get_snapshot_progress (fixture->store);
  g_assert_null (progress);
  g_assert_cmpuint (file_mode (db_path), ==, 0600);
  g_assert_cmpuint (file_mode (media_dir), ==, 0700);
}

static void
test_migrations_reopen (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  apply_base (fixture->store);
  before = export_string (fixture);
  reopen (fixture);
  after = export_string (fixture);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
  g_assert_cmpint (user_version (fixture), ==, COMPANION_MIRROR_STORE_SCHEMA_VERSION);
}

static void
test_migrations_newer (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  CompanionMirrorStore *store;

  g_assert_finalize_object (fixture->store);
  fixture->store = NULL;
  raw_exec (fixture, "PRAGMA user_version = 2");

  store = companion_mirror_store_open (fixture->dir, &error);
  g_assert_null (store);
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NEWER_VERSION);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "newer Companion (schema 2; this version knows up to 1)"));
  /* Refused, not rewritten. */
  g_assert_cmpint (user_version (fixture), ==, 2);
}

static void
test_migrations_not_a_database (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "other", NULL);
  g_autofree char *db_path = g_build_filename (path, "mirror.db", NULL);
  g_autoptr(GError) error = NULL;
  CompanionMirrorStore *store;

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_true (g_file_set_contents (db_path, "this is not SQLite, but it is long enough to "
                                      "be read as a database header by SQLite at all", -1, NULL));
  store = companion_mirror_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_CORRUPT);
  g_test_message ("%s", error->message);
}

/* Applying changes */

static void
test_apply_idempotent (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *first = NULL;
  g_autofree char *again = NULL;
  gint64 last_sync;

  apply_base (fixture->store);
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
  last_sync = companion_mirror_store_get_last_sync (fixture->store);
  g_assert_cmpint (last_sync, >, 0);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_CONTACT), ==, 2);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_CHAT), ==, 2);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MESSAGE), ==, 3);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MEDIA), ==, 1);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_CALL), ==, 1);
  first = export_string (fixture);

  /* The same batch again (a re-delivery after a lost acknowledgement). */
  apply_base (fixture->store);
  again = export_string (fixture);
  g_assert_cmpstr (first, ==, again);
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
  assert_search (fixture, "sure", "m-2:ch-1:[Sure]");

  /* Overlapping: 8 and 9 again, 10 new. */
  apply_ok (fixture->store,
            batch (upsert (8, COMPANION_ENTITY_MESSAGE, MESSAGE_3),
                   upsert (9, COMPANION_ENTITY_CALL, CALL_1),
                   upsert (10, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-4','chat':'ch-2','from':'c-1','time':3000,'text':'Hi all',"
                           "'deleted':false}"),
                   NULL));
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 10);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MESSAGE), ==, 4);

  /* An edit is a whole-record upsert; the index follows it. */
  apply_ok (fixture->store,
            batch (upsert (11, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-4','chat':'ch-2','from':'c-1','time':3000,'text':'Hello team',"
                           "'edited_at':3500,'deleted':false}"),
                   NULL));
  assert_search (fixture, "all", "");
  assert_search (fixture, "team", "m-4:ch-2:Hello [team]");

  /* An empty batch changes nothing. */
  apply_ok (fixture->store, batch (NULL, NULL));
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 11);
}

static void
test_apply_gap (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  struct {
    guint64 seqs[3];
    const char *message;
  } cases[] = {
    { { 10, 13, 0 }, "change 13 follows 10: 11–12 are missing" },
    { { 11, 0, 0 }, "change 11 follows 9: 10 is missing" },
    { { 57, 0, 0 }, "change 57 follows 9: 10–56 are missing" },
    { { 10, 11, 13 }, "change 13 follows 11: 12 is missing" },
  };

  apply_base (fixture->store);
  before = export_string (fixture);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) changes = batch (NULL, NULL);
      g_autoptr(GError) error = NULL;

      for (guint j = 0; j < 3 && cases[i].seqs[j] != 0; j++)
        {
          g_autofree char *record = g_strdup_printf (
            "{'id':'g-%u','chat':'ch-1','time':%u,'text':'gap','deleted':false}", j, 5000 + j);

          g_ptr_array_add (changes, upsert (cases[i].seqs[j], COMPANION_ENTITY_MESSAGE, record));
        }
      g_assert_false (companion_mirror_store_apply_changes (fixture->store, changes, &error));
      g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_SEQUENCE_GAP);
      g_assert_cmpstr (error->message, ==, cases[i].message);
      g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
    }

  after = export_string (fixture);
  g_assert_cmpstr (before, ==, after);
}

typedef struct
{
  const char      *name;
  CompanionEntity  entity;
  const char      *record;     /* NULL: a delete of ID */
  const char      *id;
  int              code;
  const char      *needle;     /* in the message besides "change 11: " */
} BadCase;

static void
test_apply_bad_records (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *before = NULL;
  g_autofree char *huge = NULL;
  g_autofree char *huge_record = NULL;
  const int invalid = COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD;
  const int unknown = COMPANION_MIRROR_STORE_ERROR_UNKNOWN_REFERENCE;
  BadCase cases[] = {
    { "unknown field", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-1','time':1,'text':'x','deleted':false,'colour':'red'}", NULL,
      invalid, "colour" },
    { "missing field", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-1','text':'x','deleted':false}", NULL, invalid, "time" },
    { "mistyped field", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-1','time':'yesterday','text':'x','deleted':false}", NULL,
      invalid, "time" },
    { "mistyped boolean", COMPANION_ENTITY_CHAT,
      "{'id':'ch-9','kind':'direct','title':'','participants':['c-1'],'unread':0,"
      "'pinned':'yes','muted':false,'archived':false}", NULL, invalid, "pinned" },
    { "oversized field", COMPANION_ENTITY_MESSAGE, NULL /* huge_record */, NULL, 0, "text" },
    { "unknown chat", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-404','time':1,'text':'x','deleted':false}", NULL,
      unknown, "message “m-9”: “chat” names a chat “ch-404”" },
    { "unknown sender", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-1','from':'c-404','time':1,'text':'x','deleted':false}", NULL,
      unknown, "“from” names a contact “c-404”" },
    { "unknown media", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-1','time':1,'text':'','media':'" HASH_WORLD "','deleted':false}",
      NULL, unknown, "“media” names a media item “" HASH_WORLD "”" },
    { "reply in another chat", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-2','time':1,'text':'x','reply_to':'m-1','deleted':false}", NULL,
      unknown, "“reply_to” names a message “m-1”" },
    { "unknown reply", COMPANION_ENTITY_MESSAGE,
      "{'id':'m-9','chat':'ch-1','time':1,'text':'x','reply_to':'m-404','deleted':false}", NULL,
      unknown, "“reply_to” names a message “m-404”" },
    { "unknown participant", COMPANION_ENTITY_CHAT,
      "{'id':'ch-9','kind':'group','title':'G','participants':['c-1','c-404'],'unread':0,"
      "'pinned':false,'muted':false,'archived':false}", NULL,
      unknown, "chat “ch-9”: “participants” names a contact “c-404”" },
    { "unknown call participant", COMPANION_ENTITY_CALL,
      "{'id':'k-9','kind':'video','direction':'outgoing','missed':false,'time':1,"
      "'duration_s':3,'participants':['c-404']}", NULL, unknown, "c-404" },
    { "contact in use", COMPANION_ENTITY_CONTACT, NULL, "c-1",
      COMPANION_MIRROR_STORE_ERROR_IN_USE, "contact “c-1” cannot be deleted: chat “ch-1” still names it" },
    { "media in use", COMPANION_ENTITY_MEDIA, NULL, HASH_HELLO,
      COMPANION_MIRROR_STORE_ERROR_IN_USE, "message “m-3” still names it" },
    { "unknown entity", (CompanionEntity) 99, NULL, "x-1", invalid, "unknown entity 99" },
  };

  apply_base (fixture->store);
  before = export_string (fixture);

  huge = g_strnfill (65537, 'a');
  huge_record = g_strdup_printf ("{'id':'m-9','chat':'ch-1','time':1,'text':'%s','deleted':false}",
                                 huge);
  cases[4].record = huge_record;
  cases[4].code = invalid;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) changes = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *after = NULL;
      CompanionChange *bad;

      if (cases[i].record != NULL)
        bad = upsert (11, cases[i].entity, cases[i].record);
      else if (cases[i].entity < COMPANION_N_ENTITIES)
        bad = delete (11, cases[i].entity, cases[i].id);
      else
        {
          bad = delete (11, COMPANION_ENTITY_CALL, cases[i].id);
          bad->entity = cases[i].entity;
        }

      /* A good change first: it must not survive the bad one. */
      changes = batch (upsert (10, COMPANION_ENTITY_MESSAGE,
                               "{'id':'m-10','chat':'ch-1','from':'c-1','time':9000,"
                               "'text':'before the bad one','deleted':false}"),
                       bad, NULL);
      g_assert_false (companion_mirror_store_apply_changes (fixture->store, changes, &error));
      g_test_message ("%s: %s", cases[i].name, error != NULL ? error->message : "(no error)");
      g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, cases[i].code);
      g_assert_true (g_str_has_prefix (error->message, "change 11: "));
      g_assert_nonnull (strstr (error->message, cases[i].needle));

      g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
      after = export_string (fixture);
      g_assert_cmpstr (before, ==, after);
      assert_search (fixture, "before", "");
    }

  /* The sync engine parses changes off the wire: an unknown entity stops there. */
  {
    g_autoptr(JsonObject) wire = object_from ("{'seq':11,'op':'upsert','entity':'sticker',"
                                              "'record':{'id':'s-1'}}");
    g_autoptr(GError) error = NULL;
    CompanionChange *change = companion_change_parse (wire, &error);

    g_assert_null (change);
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_UNKNOWN_ENTITY);
    g_assert_nonnull (strstr (error->message, "change 11"));
  }

  /* And the store still takes good changes. */
  apply_ok (fixture->store,
            batch (upsert (10, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-10','chat':'ch-1','from':'c-1','time':9000,"
                           "'text':'before the bad one','deleted':false}"),
                   NULL));
  assert_search (fixture, "before", "m-10:ch-1:[before] the bad one");
}

/* The cursor and the data commit together: a failure in the middle of a
 * batch, after some rows were written, leaves both as they were. */
static void
test_apply_atomic (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *list_before = NULL;
  g_autofree char *list_after = NULL;

  apply_base (fixture->store);
  before = export_string (fixture);
  list_before = chat_list (fixture);

  /* Another connection makes the database refuse one row, as a full disk
   * or an I/O error would in the middle of the batch. */
  raw_exec (fixture, "CREATE TRIGGER fail_boom BEFORE INSERT ON messages "
                     "WHEN NEW.id = 'm-boom' BEGIN SELECT RAISE (ABORT, 'injected failure'); END");

  changes = batch (upsert (10, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-10','chat':'ch-1','from':'c-1','time':9000,'text':'ten',"
                           "'deleted':false}"),
                   upsert (11, COMPANION_ENTITY_CHAT,
                           "{'id':'ch-1','kind':'direct','title':'Ana','participants':['c-1'],"
                           "'unread':5,'pinned':true,'muted':false,'archived':false}"),
                   delete (12, COMPANION_ENTITY_MESSAGE, "m-2"),
                   upsert (13, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-boom','chat':'ch-2','time':9500,'text':'boom','deleted':false}"),
                   NULL);
  g_assert_false (companion_mirror_store_apply_changes (fixture->store, changes, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "change 13: "));
  g_assert_nonnull (strstr (error->message, "injected failure"));

  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
  after = export_string (fixture);
  g_assert_cmpstr (before, ==, after);
  list_after = chat_list (fixture);
  g_assert_cmpstr (list_before, ==, list_after);
  assert_search (fixture, "ten", "");
  assert_search (fixture, "sure", "m-2:ch-1:[Sure]");

  /* Once the cause is gone, the same batch goes through whole. */
  raw_exec (fixture, "DROP TRIGGER fail_boom");
  g_clear_error (&error);
  g_assert_true (companion_mirror_store_apply_changes (fixture->store, changes, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 13);
  assert_search (fixture, "ten", "m-10:ch-1:[ten]");
  assert_search (fixture, "sure", "");
}

/* First sync */

static void
apply_snapshot_ok (CompanionMirrorStore *store,
                   CompanionEntity       entity,
                   GPtrArray            *page)
{
  g_autoptr(GPtrArray) owned = page;
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_mirror_store_apply_snapshot (store, entity, owned, &error));
  g_assert_no_error (error);
}

static void
test_snapshot (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) bad_page = NULL;
  g_autofree char *progress = NULL;
  g_autofree char *list = NULL;

  g_assert_true (companion_mirror_store_set_snapshot_progress (fixture->store,
                                                               "{\"stage\":\"chats\"}", &error));
  g_assert_no_error (error);

  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CONTACT, records (CONTACT_1, CONTACT_2, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CHAT, records (CHAT_1, CHAT_2, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MEDIA, records (MEDIA_1, NULL));

  /* Newest first: m-2 replies to m-1, which comes in the next page. */
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE, records (MESSAGE_2, MESSAGE_3, NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-1@2000:Sure | ch-2@1500:cat.png");
  g_clear_pointer (&list, g_free);

  g_assert_true (companion_mirror_store_set_snapshot_progress (fixture->store,
                                                               "{\"stage\":\"history\",\"before\":1500}",
                                                               &error));
  progress = companion_mirror_store_get_snapshot_progress (fixture->store);
  g_assert_cmpstr (progress, ==, "{\"stage\":\"history\",\"before\":1500}");
  g_clear_pointer (&progress, g_free);

  /* A bad record spoils its whole page, which names it. */
  bad_page = records ("{'id':'m-7','chat':'ch-1','time':700,'text':'fine','deleted':false}",
                      "{'id':'m-8','chat':'ch-404','time':800,'text':'lost','deleted':false}",
                      NULL);
  g_assert_false (companion_mirror_store_apply_snapshot (fixture->store, COMPANION_ENTITY_MESSAGE,
                                                         bad_page, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_UNKNOWN_REFERENCE);
  g_assert_true (g_str_has_prefix (error->message, "snapshot page, message 2: "));
  g_clear_error (&error);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MESSAGE), ==, 2);

  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE, records (MESSAGE_1, NULL));
  /* A page sent twice is harmless. */
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE, records (MESSAGE_1, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CALL, records (CALL_1, NULL));

  /* Not searchable until the snapshot is finished. */
  assert_search (fixture, "cafe", "");
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 0);

  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 9, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (companion_mirror_store_get_cursor (fixture->store), ==, 9);
  progress = companion_mirror_store_get_snapshot_progress (fixture->store);
  g_assert_null (progress);
  assert_search (fixture, "cafe", "m-1:ch-1:[Café] au lait?");
  assert_search (fixture, "sure", "m-2:ch-1:[Sure]");

  /* The same data as live changes give the same export. */
  {
    g_autofree char *from_snapshot = export_string (fixture);
    g_autofree char *from_changes = NULL;
    g_autofree char *dir = g_dir_make_tmp ("test-mirror-store-XXXXXX", NULL);
    g_autoptr(CompanionMirrorStore) other = companion_mirror_store_open (dir, &error);
    g_autoptr(CompanionExport) export = NULL;

    g_assert_no_error (error);
    apply_base (other);
    export = companion_mirror_store_export (other, &error);
    g_assert_no_error (error);
    from_changes = companion_export_to_string (export, NULL);
    g_assert_cmpstr (from_snapshot, ==, from_changes);
    g_assert_finalize_object (g_steal_pointer (&other));
    test_util_remove_tree (dir);
  }

  /* An older page after the finish, then live changes meanwhile: */
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE,
                     records ("{'id':'m-0','chat':'ch-1','from':'c-1','time':10,"
                              "'text':'Old news','deleted':false}",
                              MESSAGE_1, NULL));
  apply_ok (fixture->store,
            batch (upsert (10, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-0','chat':'ch-1','from':'c-1','time':10,"
                           "'text':'Old stories','deleted':false}"),
                   delete (11, COMPANION_ENTITY_MESSAGE, "m-1"),
                   NULL));
  assert_search (fixture, "old", "");
  /* A snapshot may not take the cursor back. */
  g_assert_false (companion_mirror_store_finish_snapshot (fixture->store, 9, &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_SEQUENCE_GAP);
  g_clear_error (&error);
  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 11, &error));
  g_assert_no_error (error);
  assert_search (fixture, "old", "m-0:ch-1:[Old] stories");
  assert_search (fixture, "news", "");
  assert_search (fixture, "cafe", "");
  assert_search (fixture, "sure", "m-2:ch-1:[Sure]");
  raw_exec (fixture, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')");
}

/* The chat list */

static void
test_chat_list (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) page = NULL;
  char *list;

  apply_base (fixture->store);
  apply_ok (fixture->store,
            batch (upsert (10, COMPANION_ENTITY_CHAT,
                           "{'id':'ch-3','kind':'direct','title':'Bo','participants':['c-2'],"
                           "'unread':0,'pinned':false,'muted':false,'archived':false}"),
                   NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-1@2000:Sure | ch-2@1500:cat.png | ch-3@0:");
  g_free (list);

  /* A new message moves its chat up. */
  apply_ok (fixture->store,
            batch (upsert (11, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-5','chat':'ch-2','from':'c-1','time':2500,"
                           "'text':'Lunch?','deleted':false}"),
                   NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-2@2500:Lunch? | ch-1@2000:Sure | ch-3@0:");
  g_free (list);

  /* Deleted for everyone: the preview falls back to the message before. */
  apply_ok (fixture->store,
            batch (upsert (12, COMPANION_ENTITY_MESSAGE,
                           "{'id':'m-5','chat':'ch-2','from':'c-1','time':2500,"
                           "'text':'','deleted':true}"),
                   NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-1@2000:Sure | ch-2@1500:cat.png | ch-3@0:");
  g_free (list);

  /* Removed outright, and the chat's record changes: it keeps its preview. */
  apply_ok (fixture->store,
            batch (delete (13, COMPANION_ENTITY_MESSAGE, "m-2"),
                   upsert (14, COMPANION_ENTITY_CHAT,
                           "{'id':'ch-1','kind':'direct','title':'Ana B','participants':['c-1'],"
                           "'unread':1,'pinned':false,'muted':false,'archived':false}"),
                   NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-2@1500:cat.png | ch-1@1000:Café au lait? | ch-3@0:");
  g_free (list);

  /* Pinned first, whatever its time. */
  apply_ok (fixture->store,
            batch (upsert (15, COMPANION_ENTITY_CHAT,
                           "{'id':'ch-3','kind':'direct','title':'Bo','participants':['c-2'],"
                           "'unread':0,'pinned':true,'muted':false,'archived':false}"),
                   NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-3@0: | ch-2@1500:cat.png | ch-1@1000:Café au lait?");
  g_free (list);

  /* Limit and offset. */
  page = companion_mirror_store_list_chats (fixture->store, 1, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (((CompanionMirrorChat *) page->pdata[0])->record, "id"),
                   ==, "ch-2");

  /* Deleting a chat takes its messages, and their search entries, with it. */
  apply_ok (fixture->store, batch (delete (16, COMPANION_ENTITY_CHAT, "ch-1"), NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-3@0: | ch-2@1500:cat.png");
  g_free (list);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MESSAGE), ==, 2); /* m-3, m-5 */
  assert_search (fixture, "cafe", "");
  /* Now c-1 is named only by ch-2 and the call. */
  {
    g_autoptr(GPtrArray) changes = batch (delete (17, COMPANION_ENTITY_CONTACT, "c-1"), NULL);

    g_assert_false (companion_mirror_store_apply_changes (fixture->store, changes, &error));
    g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_IN_USE);
  }
}

static void
test_list_messages (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GPtrArray) changes = batch (NULL, NULL);
  g_autoptr(GString) seen = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *last_id = NULL;
  gint64 last_time = 0;

  apply_base (fixture->store);
  /* Seven messages, two pairs at the same time. */
  for (guint i = 0; i < 7; i++)
    {
      g_autofree char *record = g_strdup_printf (
        "{'id':'p-%u','chat':'ch-2','from':'c-2','time':%u,'text':'page','deleted':false}",
        i, 3000 + (i / 2) * 10);

      g_ptr_array_add (changes, upsert (10 + i, COMPANION_ENTITY_MESSAGE, record));
    }
  g_assert_true (companion_mirror_store_apply_changes (fixture->store, changes, &error));
  g_assert_no_error (error);

  for (;;)
    {
      g_autoptr(GPtrArray) page = companion_mirror_store_list_messages (fixture->store, "ch-2",
                                                                         last_time, last_id, 3,
                                                                         &error);
      JsonObject *last;

      g_assert_no_error (error);
      for (guint i = 0; i < page->len; i++)
        g_string_append_printf (seen, "%s ", json_object_get_string_member (page->pdata[i], "id"));
      if (page->len < 3)
        break;
      last = page->pdata[page->len - 1];
      g_free (last_id);
      last_id = g_strdup (json_object_get_string_member (last, "id"));
      last_time = json_object_get_int_member (last, "time");
    }
  g_assert_cmpstr (seen->str, ==, "p-6 p-5 p-4 p-3 p-2 p-1 p-0 m-3 ");

  {
    g_autoptr(GPtrArray) calls = companion_mirror_store_list_calls (fixture->store, 10, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (calls->len, ==, 1);
    g_assert_cmpstr (json_object_get_string_member (calls->pdata[0], "id"), ==, "k-1");
  }
}

static void
test_search (Fixture       *fixture,
             gconstpointer  data)
{
  apply_base (fixture->store);
  apply_ok (fixture->store,
            batch (upsert (10, COMPANION_ENTITY_MESSAGE,
                           "{'id':'r-1','chat':'ch-2','from':'c-1','time':4000,"
                           "'text':'مرحبا بالعالم','deleted':false}"),
                   upsert (11, COMPANION_ENTITY_MESSAGE,
                           "{'id':'r-2','chat':'ch-2','from':'c-2','time':4100,"
                           "'text':'שלום עולם, see you at the Crème Brûlée place','deleted':false}"),
                   upsert (12, COMPANION_ENTITY_MESSAGE,
                           "{'id':'r-3','chat':'ch-1','from':'c-1','time':4200,"
                           "'text':'NAÏVE café \\\"quotes\\\" AND NEAR(x)','deleted':false}"),
                   NULL));

  /* Diacritics and case do not matter, either way round. */
  assert_search (fixture, "cafe",
                   "r-3:ch-1:NAÏVE [café] \"quotes\" AND NEAR(x) | m-1:ch-1:[Café] au lait?");
  assert_search (fixture, "CAFÉ",
                   "r-3:ch-1:NAÏVE [café] \"quotes\" AND NEAR(x) | m-1:ch-1:[Café] au lait?");
  assert_search (fixture, "creme brulee",
                   "r-2:ch-2:שלום עולם, see you at the [Crème] [Brûlée] place");
  assert_search (fixture, "naive", "r-3:ch-1:[NAÏVE] café \"quotes\" AND NEAR(x)");
  /* The last word is a prefix. */
  assert_search (fixture, "au la", "m-1:ch-1:Café [au] [lait]?");
  /* Right-to-left text. */
  assert_search (fixture, "بالعالم", "r-1:ch-2:مرحبا [بالعالم]");
  assert_search (fixture, "שלום",
                   "r-2:ch-2:[שלום] עולם, see you at the Crème Brûlée place");
  /* What the user types is never FTS syntax. */
  assert_search (fixture, "\"quotes\"",
                   "r-3:ch-1:NAÏVE café \"[quotes]\" AND NEAR(x)");
  assert_search (fixture, "NEAR(x", "r-3:ch-1:NAÏVE café \"quotes\" AND [NEAR(x])");
  assert_search (fixture, "AND", "r-3:ch-1:NAÏVE café \"quotes\" [AND] NEAR(x)");
  assert_search (fixture, "\"", "");
  assert_search (fixture, "*", "");
  assert_search (fixture, "  ", "");
  assert_search (fixture, "nothing", "");
}

/* Media */

static GInputStream *
stream_of (const char *text)
{
  return g_memory_input_stream_new_from_data (g_strdup (text), (gssize) strlen (text), g_free);
}

static guint
count_files (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (handle);
  while (g_dir_read_name (handle) != NULL)
    n++;
  return n;
}

static void
test_media (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *media_dir = g_build_filename (fixture->dir, "media", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  CompanionMediaState state;
  guint64 received;
  struct {
    const char *bytes;
    const char *needle;
  } wrong[] = {
    { "world", "hashes to “" HASH_WORLD "”" },
    { "hell", "is not 5 bytes long" },
    { "hello, world", "is not 5 bytes long" },
    { "", "is not 5 bytes long" },
  };

  apply_base (fixture->store);
  g_assert_true (companion_mirror_store_get_media_state (fixture->store, HASH_HELLO, &state,
                                                         &received, &error));
  g_assert_cmpint (state, ==, COMPANION_MEDIA_STATE_ABSENT);
  g_assert_cmpuint (received, ==, 0);
  g_assert_null (companion_mirror_store_get_media_path (fixture->store, HASH_HELLO));

  /* Bytes that are not the media: nothing kept. */
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++)
    {
      g_autoptr(GInputStream) stream = stream_of (wrong[i].bytes);

      g_assert_false (companion_mirror_store_store_media_file (fixture->store, HASH_HELLO, stream,
                                                               NULL, &error));
      g_test_message ("%s", error->message);
      g_assert_error (error, COMPANION_MIRROR_STORE_ERROR,
                      COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH);
      g_assert_nonnull (strstr (error->message, HASH_HELLO));
      g_assert_nonnull (strstr (error->message, wrong[i].needle));
      g_clear_error (&error);
      g_assert_cmpuint (count_files (media_dir), ==, 0);
      g_assert_null (companion_mirror_store_get_media_path (fixture->store, HASH_HELLO));
    }

  /* Media the mirror does not know. */
  {
    g_autoptr(GInputStream) stream = stream_of ("world");

    g_assert_false (companion_mirror_store_store_media_file (fixture->store, HASH_WORLD, stream,
                                                             NULL, &error));
    g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }

  /* A transfer in progress, then the file. */
  g_assert_true (companion_mirror_store_set_media_progress (fixture->store, HASH_HELLO, 3, &error));
  g_assert_no_error (error);
  g_assert_true (companion_mirror_store_get_media_state (fixture->store, HASH_HELLO, &state,
                                                         &received, &error));
  g_assert_cmpint (state, ==, COMPANION_MEDIA_STATE_PARTIAL);
  g_assert_cmpuint (received, ==, 3);
  g_assert_false (companion_mirror_store_set_media_progress (fixture->store, HASH_HELLO, 6, &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID);
  g_clear_error (&error);

  {
    g_autoptr(GInputStream) stream = stream_of ("hello");

    g_assert_true (companion_mirror_store_store_media_file (fixture->store, HASH_HELLO, stream,
                                                            NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_true (companion_mirror_store_get_media_state (fixture->store, HASH_HELLO, &state,
                                                         &received, &error));
  g_assert_cmpint (state, ==, COMPANION_MEDIA_STATE_COMPLETE);
  g_assert_cmpuint (received, ==, 5);
  path = companion_mirror_store_get_media_path (fixture->store, HASH_HELLO);
  g_assert_nonnull (path);
  g_assert_true (g_str_has_suffix (path, "/media/" HASH_HELLO));
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (count_files (media_dir), ==, 1);
  g_assert_true (companion_mirror_store_verify_media_files (fixture->store, &error));
  g_assert_no_error (error);

  /* The state survives a media record update and a reopen. */
  apply_ok (fixture->store, batch (upsert (10, COMPANION_ENTITY_MEDIA, MEDIA_1), NULL));
  reopen (fixture);
  g_assert_true (companion_mirror_store_get_media_state (fixture->store, HASH_HELLO, &state,
                                                         NULL, &error));
  g_assert_cmpint (state, ==, COMPANION_MEDIA_STATE_COMPLETE);

  /* The check re-hashes what is on disk. */
  g_assert_true (g_file_set_contents (path, "jello", -1, NULL));
  g_assert_false (companion_mirror_store_verify_media_files (fixture->store, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH);
  g_assert_nonnull (strstr (error->message, HASH_HELLO));
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_false (companion_mirror_store_verify_media_files (fixture->store, &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH);
  g_clear_error (&error);

  /* Deleting the media record (once no message names it) removes its file. */
  {
    g_autoptr(GInputStream) stream = stream_of ("hello");

    g_assert_true (companion_mirror_store_store_media_file (fixture->store, HASH_HELLO, stream,
                                                            NULL, &error));
    g_assert_no_error (error);
  }
  apply_ok (fixture->store, batch (delete (11, COMPANION_ENTITY_MESSAGE, "m-3"),
                                   delete (12, COMPANION_ENTITY_MEDIA, HASH_HELLO), NULL));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MEDIA), ==, 0);
}

/* Outbox */

static void
test_outbox (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) send = object_from ("{'type':'send','chat':'ch-1','text':'Hi'}");
  g_autoptr(JsonObject) read = object_from ("{'type':'mark-read','chat':'ch-2'}");
  g_autoptr(JsonObject) other = object_from ("{'type':'send','chat':'ch-1','text':'Bye'}");
  g_autoptr(GPtrArray) entries = NULL;
  CompanionOutboxEntry *entry;
  gboolean removed = FALSE;

  g_assert_true (companion_mirror_store_outbox_add (fixture->store, "cid-1", send, &error));
  g_assert_no_error (error);
  g_assert_true (companion_mirror_store_outbox_add (fixture->store, "cid-2", read, &error));
  g_assert_no_error (error);
  /* The same command again is a no-op; another under the same id is refused. */
  g_assert_true (companion_mirror_store_outbox_add (fixture->store, "cid-1", send, &error));
  g_assert_no_error (error);
  g_assert_false (companion_mirror_store_outbox_add (fixture->store, "cid-1", other, &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (companion_mirror_store_outbox_add (fixture->store, "not an id", other, &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (companion_mirror_store_outbox_mark_attempt (fixture->store, "cid-1", &error));
  g_assert_true (companion_mirror_store_outbox_mark_attempt (fixture->store, "cid-1", &error));
  g_assert_no_error (error);
  g_assert_false (companion_mirror_store_outbox_mark_attempt (fixture->store, "cid-9", &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* It waits across restarts. */
  reopen (fixture);
  entries = companion_mirror_store_outbox_list (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 2);
  entry = entries->pdata[0];
  g_assert_cmpstr (entry->client_id, ==, "cid-1");
  g_assert_cmpuint (entry->attempts, ==, 2);
  g_assert_cmpint (entry->created, >, 0);
  g_assert_cmpstr (json_object_get_string_member (entry->command, "text"), ==, "Hi");
  entry = entries->pdata[1];
  g_assert_cmpstr (entry->client_id, ==, "cid-2");
  g_assert_cmpuint (entry->attempts, ==, 0);
  g_clear_pointer (&entries, g_ptr_array_unref);

  g_assert_true (companion_mirror_store_outbox_remove (fixture->store, "cid-1", &removed, &error));
  g_assert_true (removed);
  g_assert_true (companion_mirror_store_outbox_remove (fixture->store, "cid-1", &removed, &error));
  g_assert_false (removed);
  g_assert_no_error (error);
  entries = companion_mirror_store_outbox_list (fixture->store, &error);
  g_assert_cmpuint (entries->len, ==, 1);
  g_assert_cmpstr (((CompanionOutboxEntry *) entries->pdata[0])->client_id, ==, "cid-2");
}

/* Export */

static void
test_export (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *text = NULL;
  const char *expected =
    "{\"calls\":[{\"direction\":\"incoming\",\"duration_s\":0,\"id\":\"k-1\",\"kind\":\"voice\","
    "\"missed\":true,\"participants\":[\"c-1\"],\"time\":500}],"
    "\"chats\":[{\"archived\":false,\"id\":\"ch-1\",\"kind\":\"direct\",\"muted\":false,"
    "\"participants\":[\"c-1\"],\"pinned\":false,\"title\":\"Ana\",\"unread\":0},"
    "{\"archived\":false,\"id\":\"ch-2\",\"kind\":\"group\",\"muted\":true,"
    "\"participants\":[\"c-1\",\"c-2\"],\"pinned\":false,\"title\":\"Team\",\"unread\":2}],"
    "\"contacts\":[{\"id\":\"c-1\",\"name\":\"Ana\",\"phone\":\"+1 555\"},"
    "{\"id\":\"c-2\",\"name\":\"Bo\"}],"
    "\"media\":[{\"hash\":\"" HASH_HELLO "\",\"height\":12,\"kind\":\"image\","
    "\"mime\":\"image/png\",\"name\":\"cat.png\",\"size\":5,\"width\":10}],"
    "\"messages\":[{\"chat\":\"ch-1\",\"deleted\":false,\"from\":\"c-1\",\"id\":\"m-1\","
    "\"reactions\":{\"me\":\"👍\"},\"text\":\"Café au lait?\",\"time\":1000},"
    "{\"chat\":\"ch-1\",\"deleted\":false,\"id\":\"m-2\",\"reply_to\":\"m-1\",\"status\":\"read\","
    "\"text\":\"Sure\",\"time\":2000},"
    "{\"chat\":\"ch-2\",\"deleted\":false,\"from\":\"c-2\",\"id\":\"m-3\",\"media\":\""
    HASH_HELLO "\",\"text\":\"\",\"time\":1500}],"
    "\"version\":1}\n";

  apply_base (fixture->store);
  text = export_string (fixture);
  g_assert_cmpstr (text, ==, expected);

  /* An empty mirror. */
  g_clear_pointer (&text, g_free);
  {
    g_autofree char *dir = g_dir_make_tmp ("test-mirror-store-XXXXXX", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(CompanionMirrorStore) empty = companion_mirror_store_open (dir, &error);
    g_autoptr(CompanionExport) export = companion_mirror_store_export (empty, &error);

    g_assert_no_error (error);
    text = companion_export_to_string (export, NULL);
    g_assert_cmpstr (text, ==,
                     "{\"calls\":[],\"chats\":[],\"contacts\":[],\"media\":[],\"messages\":[],"
                     "\"version\":1}\n");
    g_assert_finalize_object (g_steal_pointer (&empty));
    test_util_remove_tree (dir);
  }
}

/* Timing (reported, not asserted): a first sync of many messages. Run by
 * hand with COMPANION_BENCH_MESSAGES=1000000 for the large figure. */
static void
test_bulk_snapshot (Fixture       *fixture,
                    gconstpointer  data)
{
  const char *env = g_getenv ("COMPANION_BENCH_MESSAGES");
#ifdef __SANITIZE_ADDRESS__
  const guint default_messages = 10000; /* AddressSanitizer makes it ~25 times slower */
#else
  const guint default_messages = 100000;
#endif
  guint n_messages = env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : default_messages;
  const guint page_size = 5000;
  const guint n_chats = 200;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) setup = batch (NULL, NULL);
  g_autoptr(GTimer) timer = g_timer_new ();
  g_autoptr(GTimer) build_timer = g_timer_new ();
  double apply_time = 0, build_time = 0, finish_time;
  g_autofree char *hits = NULL;

  for (guint c = 0; c < 10; c++)
    {
      g_autofree char *record = g_strdup_printf ("{'id':'c-%u','name':'Contact %u'}", c, c);

      g_ptr_array_add (setup, upsert (c + 1, COMPANION_ENTITY_CONTACT, record));
    }
  for (guint c = 0; c < n_chats; c++)
    {
      g_autofree char *record = g_strdup_printf (
        "{'id':'ch-%u','kind':'group','title':'Chat %u','participants':['c-0','c-1','c-2'],"
        "'unread':0,'pinned':false,'muted':false,'archived':false}", c, c);

      g_ptr_array_add (setup, upsert (11 + c, COMPANION_ENTITY_CHAT, record));
    }
  g_assert_true (companion_mirror_store_apply_changes (fixture->store, setup, &error));
  g_assert_no_error (error);

  for (guint start = 0; start < n_messages; start += page_size)
    {
      g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

      g_timer_start (build_timer);
      for (guint i = start; i < MIN (start + page_size, n_messages); i++)
        {
          JsonObject *message = json_object_new ();
          g_autofree char *id = g_strdup_printf ("msg-%08u", i);
          g_autofree char *chat = g_strdup_printf ("ch-%u", i % n_chats);
          g_autofree char *from = g_strdup_printf ("c-%u", i % 3);
          g_autofree char *text = g_strdup_printf ("Message number %u about the café and "
                                                   "the weather on day %u", i, i % 365);

          json_object_set_string_member (message, "id", id);
          json_object_set_string_member (message, "chat", chat);
          json_object_set_string_member (message, "from", from);
          json_object_set_int_member (message, "time", 1700000000000 - (gint64) i * 1000);
          json_object_set_string_member (message, "text", text);
          json_object_set_boolean_member (message, "deleted", FALSE);
          g_ptr_array_add (page, message);
        }
      build_time += g_timer_elapsed (build_timer, NULL);

      g_timer_start (timer);
      g_assert_true (companion_mirror_store_apply_snapshot (fixture->store, COMPANION_ENTITY_MESSAGE,
                                                            page, &error));
      g_assert_no_error (error);
      apply_time += g_timer_elapsed (timer, NULL);
    }

  g_timer_start (timer);
  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 1000, &error));
  g_assert_no_error (error);
  finish_time = g_timer_elapsed (timer, NULL);

  g_test_message ("snapshot of %u messages in pages of %u: %.2f s to apply (%.0f rows/s), "
                  "%.2f s to index for search at finish; %.2f s building the JSON records",
                  n_messages, page_size, apply_time, n_messages / apply_time, finish_time,
                  build_time);

  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MESSAGE), ==, n_messages);
  g_timer_start (timer);
  {
    g_autoptr(GPtrArray) found = companion_mirror_store_search (fixture->store, "number 4242",
                                                                "[", "]", 5, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (found->len, >=, 1);
    g_test_message ("search “number 4242”, first 5 of the matches, newest first: %.3f s",
                    g_timer_elapsed (timer, NULL));
  }
  hits = chat_list (fixture);
  g_assert_true (g_str_has_prefix (hits, "ch-0@1700000000000:Message number 0 about"));
}

/* Several pages in one transaction: all or nothing, in order. */
static void
test_snapshot_pages (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) contacts = records (CONTACT_1, CONTACT_2, NULL);
  g_autoptr(GPtrArray) chats = records (CHAT_1, CHAT_2, NULL);
  g_autoptr(GPtrArray) media = records (MEDIA_1, NULL);
  g_autoptr(GPtrArray) messages = records (MESSAGE_2, MESSAGE_3, MESSAGE_1, NULL);
  g_autoptr(GPtrArray) bad = records ("{'id':'m-9','chat':'ch-404','time':900,'text':'lost','deleted':false}",
                                      NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *list = NULL;
  CompanionSnapshotPage pages[] = {
    { COMPANION_ENTITY_CONTACT, contacts },
    { COMPANION_ENTITY_CHAT, chats },
    { COMPANION_ENTITY_MEDIA, media },
    { COMPANION_ENTITY_MESSAGE, messages },
    { COMPANION_ENTITY_MESSAGE, bad },
  };

  /* A bad record in the last page: none of the pages is applied. */
  g_assert_false (companion_mirror_store_apply_snapshot_pages (fixture->store, pages,
                                                               G_N_ELEMENTS (pages), &error));
  g_assert_error (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_UNKNOWN_REFERENCE);
  g_clear_error (&error);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_CONTACT), ==, 0);

  /* Later pages may name what earlier ones of the same commit brought; the
   * preview is the newest message whichever page brought it. */
  g_assert_true (companion_mirror_store_apply_snapshot_pages (fixture->store, pages,
                                                              G_N_ELEMENTS (pages) - 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (fixture, COMPANION_ENTITY_MESSAGE), ==, 3);
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-1@2000:Sure | ch-2@1500:cat.png");
  /* Sent again (as a preview is), nothing changes. */
  g_assert_true (companion_mirror_store_apply_snapshot_pages (fixture->store, pages + 3, 1, &error));
  g_assert_no_error (error);
  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 9, &error));
  g_assert_no_error (error);
  assert_search (fixture, "cafe", "m-1:ch-1:[Café] au lait?");
}

/* Pages searchable at their commit (as the desktop's first sync has them):
 * the rows a commit adds are indexed together at its end, also when a later
 * page of the same commit changes one, and an older row a page changes is
 * indexed again. */
static void
test_snapshot_pages_searchable (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(GPtrArray) contacts = records (CONTACT_1, CONTACT_2, NULL);
  g_autoptr(GPtrArray) chats = records (CHAT_1, CHAT_2, NULL);
  g_autoptr(GPtrArray) first = records ("{'id':'m-1','chat':'ch-1','from':'c-1','time':100,"
                                        "'text':'alpha one','deleted':false}", NULL);
  g_autoptr(GPtrArray) added = records ("{'id':'m-5','chat':'ch-1','from':'c-1','time':500,"
                                        "'text':'delta five','deleted':false}",
                                        "{'id':'m-6','chat':'ch-2','time':600,"
                                        "'text':'zeta six','deleted':false}", NULL);
  g_autoptr(GPtrArray) changed = records ("{'id':'m-5','chat':'ch-1','from':'c-1','time':500,"
                                          "'text':'epsilon five','deleted':false}",
                                          "{'id':'m-1','chat':'ch-1','from':'c-1','time':100,"
                                          "'text':'beta one','deleted':false}", NULL);
  g_autoptr(GError) error = NULL;
  CompanionSnapshotPage setup[] = {
    { COMPANION_ENTITY_CONTACT, contacts },
    { COMPANION_ENTITY_CHAT, chats },
    { COMPANION_ENTITY_MESSAGE, first },
  };
  CompanionSnapshotPage pages[] = {
    { COMPANION_ENTITY_MESSAGE, added },
    { COMPANION_ENTITY_MESSAGE, changed },
  };

  companion_mirror_store_set_index_snapshot_pages (fixture->store, TRUE);
  g_assert_true (companion_mirror_store_apply_snapshot_pages (fixture->store, setup, G_N_ELEMENTS (setup),
                                                              &error));
  g_assert_no_error (error);
  assert_search (fixture, "alpha", "m-1:ch-1:[alpha] one");

  g_assert_true (companion_mirror_store_apply_snapshot_pages (fixture->store, pages, G_N_ELEMENTS (pages),
                                                              &error));
  g_assert_no_error (error);
  assert_search (fixture, "alpha", "");
  assert_search (fixture, "beta", "m-1:ch-1:[beta] one");
  assert_search (fixture, "delta", "");
  assert_search (fixture, "epsilon", "m-5:ch-1:[epsilon] five");
  assert_search (fixture, "zeta", "m-6:ch-2:[zeta] six");
  raw_exec (fixture, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)");

  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 9, &error));
  g_assert_no_error (error);
  assert_search (fixture, "five", "m-5:ch-1:epsilon [five]");
  assert_search (fixture, "one", "m-1:ch-1:beta [one]");
  raw_exec (fixture, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)");
}

/* The database's schema, one object a line, in name order. */
static char *
schema_of (Fixture *fixture)
{
  g_autofree char *path = g_build_filename (fixture->dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  GString *schema = g_string_new (NULL);
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (schema, "%s %s %s %s\n", sqlite3_column_text (stmt, 0), sqlite3_column_text (stmt, 1),
                            sqlite3_column_text (stmt, 2), sqlite3_column_text (stmt, 3));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return g_string_free (schema, FALSE);
}

/* A first sync loads without some indexes: finished or started over, the
 * schema is the one of a new mirror, and the chat list is the same. */
static void
test_snapshot_schema (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *fresh = schema_of (fixture);
  g_autofree char *schema = NULL;
  g_autofree char *list = NULL;
  g_autoptr(GError) error = NULL;

  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CONTACT, records (CONTACT_1, CONTACT_2, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CHAT, records (CHAT_1, CHAT_2, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MEDIA, records (MEDIA_1, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE, records (MESSAGE_2, MESSAGE_3, NULL));
  schema = schema_of (fixture);
  g_assert_cmpstr (schema, !=, fresh);
  g_clear_pointer (&schema, g_free);

  /* Interrupted: starting over restores it. */
  g_assert_true (companion_mirror_store_reset (fixture->store, &error));
  g_assert_no_error (error);
  schema = schema_of (fixture);
  g_assert_cmpstr (schema, ==, fresh);
  g_clear_pointer (&schema, g_free);

  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CONTACT, records (CONTACT_1, CONTACT_2, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_CHAT, records (CHAT_1, CHAT_2, NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MEDIA, records (MEDIA_1, NULL));
  /* The same time as the newest: the greater id is the preview. */
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE,
                     records (MESSAGE_2, MESSAGE_3,
                              "{'id':'m-4','chat':'ch-2','time':1500,'text':'Same time','deleted':false}",
                              NULL));
  apply_snapshot_ok (fixture->store, COMPANION_ENTITY_MESSAGE,
                     records ("{'id':'m-0','chat':'ch-1','time':2000,'text':'Before','deleted':false}",
                              MESSAGE_1, NULL));
  list = chat_list (fixture);
  g_assert_cmpstr (list, ==, "ch-1@2000:Sure | ch-2@1500:Same time");
  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 9, &error));
  g_assert_no_error (error);
  schema = schema_of (fixture);
  g_assert_cmpstr (schema, ==, fresh);
  assert_search (fixture, "cafe", "m-1:ch-1:[Café] au lait?");
  raw_exec (fixture, "PRAGMA integrity_check");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);

#define ADD(path, func) \
  g_test_add ("/mirror-store/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("migrations/fresh", test_migrations_fresh);
  ADD ("snapshot/schema", test_snapshot_schema);
  ADD ("migrations/reopen", test_migrations_reopen);
  ADD ("migrations/newer-version-refused", test_migrations_newer);
  ADD ("migrations/not-a-database", test_migrations_not_a_database);
  ADD ("apply/idempotent", test_apply_idempotent);
  ADD ("apply/sequence-gap", test_apply_gap);
  ADD ("apply/bad-records", test_apply_bad_records);
  ADD ("apply/atomic", test_apply_atomic);
  ADD ("snapshot", test_snapshot);
  ADD ("chat-list", test_chat_list);
  ADD ("list-messages", test_list_messages);
  ADD ("search", test_search);
  ADD ("media", test_media);
  ADD ("outbox", test_outbox);
  ADD ("export", test_export);
  ADD ("bulk-snapshot", test_bulk_snapshot);
  ADD ("snapshot-pages", test_snapshot_pages);
  ADD ("snapshot-pages/searchable", test_snapshot_pages_searchable);

#undef ADD

  return g_test_run ();
}
