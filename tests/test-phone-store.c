/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "companion-fixture.h"
#include "companion-generator.h"
#include "companion-phone-store.h"
#include "test-util.h"

/* Helpers */

static char *
make_state_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("phone-store-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static GPtrArray *
changes_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
}

static void
add_upsert (GPtrArray      *changes,
            CompanionEntity entity,
            const char     *json)
{
  g_autoptr(JsonObject) record = test_util_json_object (json);

  g_ptr_array_add (changes, companion_change_new_upsert (0, entity, record));
}

static char *
export_string (CompanionPhoneStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionExport) export = companion_phone_store_export (store, &error);

  g_assert_no_error (error);
  return companion_export_to_string (export, NULL);
}

/* A store with two contacts, a direct chat and two messages. */
static CompanionPhoneStore *
basic_store (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = changes_new ();
  CompanionPhoneStore *store = companion_phone_store_open (dir, &error);
  guint64 seq;

  g_assert_no_error (error);
  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Zoë\"}");
  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-2\",\"name\":\"דוד\"}");
  add_upsert (changes, COMPANION_ENTITY_CHAT,
              "{\"id\":\"ch-1\",\"kind\":\"direct\",\"title\":\"\",\"participants\":[\"c-1\"],"
              "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}");
  add_upsert (changes, COMPANION_ENTITY_MESSAGE,
              "{\"id\":\"m-1\",\"chat\":\"ch-1\",\"from\":\"c-1\",\"time\":1000,\"text\":\"hi\",\"deleted\":false}");
  add_upsert (changes, COMPANION_ENTITY_MESSAGE,
              "{\"id\":\"m-2\",\"chat\":\"ch-1\",\"time\":2000,\"text\":\"hello\",\"reply_to\":\"m-1\","
              "\"status\":\"read\",\"deleted\":false}");
  seq = companion_phone_store_apply (store, changes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seq, ==, 5);
  return store;
}

/* Applies one bad change after a good one: the error, and nothing written. */
static void
assert_refused (const char     *dir,
                CompanionEntity entity,
                const char     *json,
                gboolean        is_delete,
                GQuark          domain,
                gint            code,
                const char     *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = companion_phone_store_open (dir, &error);
  g_autoptr(GPtrArray) changes = changes_new ();
  g_autofree char *before = export_string (store);
  g_autofree char *after = NULL;
  guint64 last = companion_phone_store_get_last_seq (store);

  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-new\",\"name\":\"New\"}");
  if (is_delete)
    g_ptr_array_add (changes, companion_change_new_delete (0, entity, json));
  else
    add_upsert (changes, entity, json);
  g_assert_cmpuint (companion_phone_store_apply (store, changes, &error), ==, 0);
  g_assert_error (error, domain, code);
  if (strstr (error->message, message_part) == NULL)
    g_error ("“%s” does not contain “%s”", error->message, message_part);
  after = export_string (store);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (companion_phone_store_get_last_seq (store), ==, last);
}

/* Tests */

static void
test_store_apply (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(CompanionPhoneStore) store = basic_store (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) log = NULL;
  g_autoptr(GPtrArray) changes = changes_new ();
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GPtrArray) last_messages = NULL;
  g_autoptr(GPtrArray) chats = NULL;
  GStatBuf st;
  g_autofree char *db = g_build_filename (dir, "phone.db", NULL);
  g_autofree char *media = g_build_filename (dir, "media", NULL);

  g_assert_cmpint (g_stat (db, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (media, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_false (companion_phone_store_is_empty (store, &error));
  g_assert_no_error (error);

  log = companion_phone_store_get_changes_after (store, 0, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log->len, ==, 5);
  for (guint i = 0; i < log->len; i++)
    g_assert_cmpuint (((CompanionChange *) g_ptr_array_index (log, i))->seq, ==, i + 1);
  g_clear_pointer (&log, g_ptr_array_unref);
  log = companion_phone_store_get_changes_after (store, 3, 1, &error);
  g_assert_cmpuint (log->len, ==, 1);
  g_assert_cmpstr (((CompanionChange *) g_ptr_array_index (log, 0))->id, ==, "m-1");

  /* Idempotent: the same upsert again is a change, the state is the same. */
  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Zoë\"}");
  g_assert_cmpuint (companion_phone_store_apply (store, changes, &error), ==, 6);
  g_assert_no_error (error);
  g_assert_cmpint (companion_phone_store_count (store, COMPANION_ENTITY_CONTACT, NULL), ==, 2);

  /* Pages. */
  chats = companion_phone_store_list_chats (store, &last_messages, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (chats->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (last_messages, 0), "id"), ==, "m-2");
  page = companion_phone_store_list_messages_before (store, 0, NULL, 1, &error);
  g_assert_cmpuint (page->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (page, 0), "id"), ==, "m-2");
  g_clear_pointer (&page, g_ptr_array_unref);
  page = companion_phone_store_list_messages_before (store, 2000, "m-2", 10, &error);
  g_assert_cmpuint (page->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (page, 0), "id"), ==, "m-1");

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

static void
test_store_refusals (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(CompanionPhoneStore) store = basic_store (dir);

  g_clear_object (&store);
  /* An invalid record. */
  assert_refused (dir, COMPANION_ENTITY_MESSAGE,
                  "{\"id\":\"m-9\",\"chat\":\"ch-1\",\"time\":\"soon\",\"text\":\"x\",\"deleted\":false}", FALSE,
                  COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD, "time");
  /* References. */
  assert_refused (dir, COMPANION_ENTITY_MESSAGE,
                  "{\"id\":\"m-9\",\"chat\":\"ch-3\",\"time\":1,\"text\":\"x\",\"deleted\":false}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE,
                  "message “m-9”: “chat” refers to an unknown chat “ch-3”");
  assert_refused (dir, COMPANION_ENTITY_MESSAGE,
                  "{\"id\":\"m-9\",\"chat\":\"ch-1\",\"from\":\"c-7\",\"time\":1,\"text\":\"x\",\"deleted\":false}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE, "“from”");
  assert_refused (dir, COMPANION_ENTITY_MESSAGE,
                  "{\"id\":\"m-9\",\"chat\":\"ch-1\",\"time\":1,\"text\":\"\",\"deleted\":false,"
                  "\"media\":\"0000000000000000000000000000000000000000000000000000000000000000\"}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE, "“media”");
  assert_refused (dir, COMPANION_ENTITY_MESSAGE,
                  "{\"id\":\"m-9\",\"chat\":\"ch-1\",\"time\":1,\"text\":\"x\",\"reply_to\":\"m-8\",\"deleted\":false}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE, "“reply_to”");
  assert_refused (dir, COMPANION_ENTITY_MESSAGE,
                  "{\"id\":\"m-9\",\"chat\":\"ch-1\",\"time\":1,\"text\":\"x\",\"deleted\":false,"
                  "\"reactions\":{\"c-5\":\"👍\"}}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE, "“reactions”");
  assert_refused (dir, COMPANION_ENTITY_CHAT,
                  "{\"id\":\"ch-2\",\"kind\":\"group\",\"title\":\"g\",\"participants\":[\"c-1\",\"c-9\"],"
                  "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE, "“participants”");
  assert_refused (dir, COMPANION_ENTITY_CALL,
                  "{\"id\":\"call-1\",\"kind\":\"voice\",\"direction\":\"outgoing\",\"missed\":false,"
                  "\"time\":5,\"duration_s\":3,\"participants\":[\"c-9\"]}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_REFERENCE, "“participants”");
  /* A media record without its file. */
  assert_refused (dir, COMPANION_ENTITY_MEDIA,
                  "{\"hash\":\"1111111111111111111111111111111111111111111111111111111111111111\","
                  "\"kind\":\"image\",\"mime\":\"image/png\",\"name\":\"a.png\",\"size\":5}", FALSE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA, "no such file");
  /* A contact in use. */
  assert_refused (dir, COMPANION_ENTITY_CONTACT, "c-1", TRUE,
                  COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_IN_USE, "c-1");

  test_util_remove_tree (dir);
}

static void
test_store_delete_chat (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(CompanionPhoneStore) store = basic_store (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = changes_new ();
  g_autoptr(GPtrArray) log = NULL;
  CompanionChange *change;

  g_ptr_array_add (changes, companion_change_new_delete (0, COMPANION_ENTITY_CHAT, "ch-1"));
  g_ptr_array_add (changes, companion_change_new_delete (0, COMPANION_ENTITY_CONTACT, "c-1"));
  g_assert_cmpuint (companion_phone_store_apply (store, changes, &error), ==, 9);
  g_assert_no_error (error);
  g_assert_cmpint (companion_phone_store_count (store, COMPANION_ENTITY_MESSAGE, NULL), ==, 0);
  g_assert_cmpint (companion_phone_store_count (store, COMPANION_ENTITY_CHAT, NULL), ==, 0);
  g_assert_cmpint (companion_phone_store_count (store, COMPANION_ENTITY_CONTACT, NULL), ==, 1);

  log = companion_phone_store_get_changes_after (store, 5, 100, &error);
  g_assert_cmpuint (log->len, ==, 4);
  change = g_ptr_array_index (log, 0);
  g_assert_true (change->is_delete && change->entity == COMPANION_ENTITY_MESSAGE);
  g_assert_cmpuint (change->seq, ==, 6);
  g_assert_cmpstr (change->id, ==, "m-1");
  change = g_ptr_array_index (log, 1);
  g_assert_cmpstr (change->id, ==, "m-2");
  change = g_ptr_array_index (log, 2);
  g_assert_true (change->is_delete && change->entity == COMPANION_ENTITY_CHAT);
  change = g_ptr_array_index (log, 3);
  g_assert_true (change->is_delete && change->entity == COMPANION_ENTITY_CONTACT);
  g_assert_cmpuint (change->seq, ==, 9);

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

static void
test_store_media (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = companion_phone_store_open (dir, &error);
  g_autofree char *source = g_build_filename (dir, "source.bin", NULL);
  g_autofree char *hash = NULL;
  g_autofree char *again = NULL;
  g_autofree char *path = NULL;
  g_autofree char *copy = NULL;
  gsize length;
  GStatBuf st;

  g_assert_true (companion_phone_store_is_empty (store, &error));
  g_assert_true (g_file_set_contents (source, "hello media", -1, NULL));
  hash = companion_phone_store_add_media_file (store, source, &error);
  g_assert_no_error (error);
  /* BLAKE2b-256 ("hello media"), as b2sum -l 256 computes it. */
  g_assert_cmpuint (strlen (hash), ==, 64);
  {
    g_autoptr(GBytes) bytes = g_bytes_new_static ("hello media", 11);
    again = companion_phone_store_add_media_bytes (store, bytes, &error);
  }
  g_assert_cmpstr (hash, ==, again);
  path = companion_phone_store_get_media_path (store, hash);
  g_assert_true (g_file_get_contents (path, &copy, &length, NULL));
  g_assert_cmpstr (copy, ==, "hello media");
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_null (companion_phone_store_get_media_path (store, "../../etc/passwd"));

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

static char *
generate (const char *spec_text,
          CompanionGeneratorCounts *counts)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = companion_phone_store_open (dir, &error);
  CompanionGeneratorSpec spec;
  char *text;

  g_assert_true (companion_generator_parse_spec (spec_text, &spec, &error));
  g_assert_no_error (error);
  g_assert_true (companion_generator_run (store, &spec, counts, &error));
  g_assert_no_error (error);
  text = export_string (store);
  g_clear_object (&store);
  test_util_remove_tree (dir);
  return text;
}

static void
test_generator_determinism (void)
{
  CompanionGeneratorCounts counts;
  g_autofree char *a = generate ("chats=30,messages=2000,media=12,calls=40,seed=7", &counts);
  g_autofree char *b = generate ("seed=7,chats=30,messages=2000,media=12,calls=40", NULL);
  g_autofree char *c = generate ("chats=30,messages=2000,media=12,calls=40,seed=8", NULL);

  g_assert_cmpuint (counts.messages, ==, 2000);
  g_assert_cmpuint (counts.contacts, ==, 30 + 6 + 3);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
}

static gboolean
has_char_in (const char *text,
             gunichar    low,
             gunichar    high)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c >= low && c <= high)
        return TRUE;
    }
  return FALSE;
}

static void
test_generator_realism (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = companion_phone_store_open (dir, &error);
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GPtrArray) media = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GHashTable) per_chat = g_hash_table_new (g_str_hash, g_str_equal);
  CompanionGeneratorSpec spec;
  guint groups = 0, replies = 0, rtl = 0, emoji = 0, reactions = 0, edited = 0, deleted = 0;
  guint outgoing = 0, long_text = 0, biggest = 0, kinds[3] = { 0 };
  GHashTableIter iter;
  gpointer value;

  g_assert_true (companion_generator_parse_spec ("chats=50,messages=5000,media=30,calls=50,seed=3", &spec, NULL));
  g_assert_true (companion_generator_run (store, &spec, NULL, &error));
  g_assert_no_error (error);

  chats = companion_phone_store_list_chats (store, NULL, &error);
  for (guint i = 0; i < chats->len; i++)
    groups += g_str_equal (json_object_get_string_member (g_ptr_array_index (chats, i), "kind"), "group");
  g_assert_cmpuint (groups, >=, 3);
  g_assert_cmpuint (groups, <=, 25);

  messages = companion_phone_store_list_messages_before (store, 0, NULL, 10000, &error);
  g_assert_cmpuint (messages->len, ==, 5000);
  for (guint i = 0; i < messages->len; i++)
    {
      JsonObject *m = g_ptr_array_index (messages, i);
      const char *text = json_object_get_string_member (m, "text");
      const char *chat = json_object_get_string_member (m, "chat");

      g_hash_table_insert (per_chat, (gpointer) chat,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (per_chat, chat)) + 1));
      replies += json_object_has_member (m, "reply_to");
      reactions += json_object_has_member (m, "reactions");
      edited += json_object_has_member (m, "edited_at");
      deleted += json_object_get_boolean_member (m, "deleted");
      outgoing += !json_object_has_member (m, "from");
      rtl += has_char_in (text, 0x0590, 0x06FF);
      emoji += has_char_in (text, 0x1F300, 0x1FAFF);
      long_text += strlen (text) > 2048;
      if (i > 0)
        {
          JsonObject *newer = g_ptr_array_index (messages, i - 1);
          g_assert_cmpint (json_object_get_int_member (newer, "time"), >=, json_object_get_int_member (m, "time"));
        }
    }
  g_hash_table_iter_init (&iter, per_chat);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    biggest = MAX (biggest, GPOINTER_TO_UINT (value));
  g_assert_cmpuint (replies, >, 100);
  g_assert_cmpuint (reactions, >, 100);
  g_assert_cmpuint (edited, >, 50);
  g_assert_cmpuint (deleted, >, 10);
  g_assert_cmpuint (outgoing, >, 1000);
  g_assert_cmpuint (rtl, >, 50);
  g_assert_cmpuint (emoji, >, 200);
  g_assert_cmpuint (long_text, >, 3);
  /* Skewed: the biggest chat holds far more than an even share (100). */
  g_assert_cmpuint (biggest, >, 800);

  media = companion_phone_store_list_media (store, NULL, 100, &error);
  g_assert_cmpuint (media->len, ==, 30);
  for (guint i = 0; i < media->len; i++)
    {
      JsonObject *record = g_ptr_array_index (media, i);
      const char *kind = json_object_get_string_member (record, "kind");
      g_autofree char *path = companion_phone_store_get_media_path (store, json_object_get_string_member (record, "hash"));
      g_autofree char *data = NULL;
      gsize length;

      g_assert_true (g_file_get_contents (path, &data, &length, NULL));
      g_assert_cmpint (length, ==, json_object_get_int_member (record, "size"));
      if (g_str_equal (kind, "image"))
        {
          g_assert_true (memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0);
          kinds[0]++;
        }
      else if (g_str_equal (kind, "voice"))
        {
          g_assert_true (memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WAVE", 4) == 0);
          kinds[1]++;
        }
      else
        {
          g_assert_true (memcmp (data, "%PDF-1.4", 8) == 0);
          g_assert_nonnull (g_strrstr_len (data, (gssize) length, "%%EOF"));
          kinds[2]++;
        }
    }
  g_assert_cmpuint (kinds[0], >, 0);
  g_assert_cmpuint (kinds[1], >, 0);
  g_assert_cmpuint (kinds[2], >, 0);

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

static void
test_generator_spec (void)
{
  static const struct
  {
    const char *spec;
    const char *message_part;
  } bad[] = {
    { "chats=5,color=3", "unknown key “color”" },
    { "chats=five", "“chats” must be a whole number, not “five”" },
    { "messages=-1", "“messages” must be a whole number" },
    { "chats=", "“chats” must be a whole number" },
    { "chats=100001", "“chats” is 100001, more than the maximum of 100000" },
    { "messages=10000001", "“messages”" },
    { "media=100001", "“media”" },
    { "calls=1000001", "“calls”" },
    { "seed=4294967296", "“seed”" },
    { "chats=99999999999999999999999", "“chats”" },
    { "chats=1,chats=2", "given twice" },
    { "chats", "is not KEY=NUMBER" },
    { "chats=0,messages=5", "“messages” needs “chats”" },
  };
  CompanionGeneratorSpec spec;

  g_assert_true (companion_generator_parse_spec ("", &spec, NULL));
  g_assert_cmpuint (spec.chats, ==, 20);
  g_assert_cmpuint (spec.seed, ==, 1);
  g_assert_true (companion_generator_parse_spec ("calls=7", &spec, NULL));
  g_assert_cmpuint (spec.calls, ==, 7);
  g_assert_cmpuint (spec.messages, ==, 500);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (companion_generator_parse_spec (bad[i].spec, &spec, &error));
      g_assert_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC);
      if (strstr (error->message, bad[i].message_part) == NULL)
        g_error ("spec “%s”: “%s” does not contain “%s”", bad[i].spec, error->message, bad[i].message_part);
    }
}

static void
test_fixture_small (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "fixture-small", "fixture.json", NULL);
  g_autofree char *expected_path = g_test_build_filename (G_TEST_DIST, "data", "fixture-small",
                                                          "expected-export.json", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *exported = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = companion_phone_store_open (dir, &error);
  CompanionFixtureCounts counts;

  g_assert_true (companion_fixture_load (store, fixture, &counts, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (counts.messages, ==, 9);
  g_assert_cmpuint (counts.media, ==, 3);
  g_assert_cmpuint (counts.last_seq, ==, 4 + 3 + 3 + 9 + 3);
  g_assert_true (g_file_get_contents (expected_path, &expected, NULL, &error));
  exported = export_string (store);
  g_assert_cmpstr (exported, ==, expected);

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

/* Copies the small fixture into a new folder, applies EDIT (Python-free: a
 * text replacement) and expects the load to fail naming MESSAGE_PART. */
static void
assert_bad_fixture (const char *from,
                    const char *to,
                    gint        code,
                    const char *message_part)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *fixture_dir = g_build_filename (dir, "fixture", NULL);
  g_autofree char *media_dir = g_build_filename (fixture_dir, "media", NULL);
  g_autofree char *state_dir = g_build_filename (dir, "state", NULL);
  g_autofree char *source = g_test_build_filename (G_TEST_DIST, "data", "fixture-small", "fixture.json", NULL);
  g_autofree char *target = g_build_filename (fixture_dir, "fixture.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GString) edited = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = NULL;
  static const char * const media[] = { "sunset.png", "voice-note.wav", "ticket.pdf" };

  g_assert_cmpint (g_mkdir_with_parents (media_dir, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (media); i++)
    {
      g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "fixture-small", "media", media[i], NULL);
      g_autofree char *dst = g_build_filename (media_dir, media[i], NULL);
      g_autofree char *data = NULL;
      gsize length;

      g_assert_true (g_file_get_contents (src, &data, &length, NULL));
      g_assert_true (g_file_set_contents (dst, data, (gssize) length, NULL));
    }
  g_assert_true (g_file_get_contents (source, &text, NULL, NULL));
  edited = g_string_new (text);
  if (g_string_replace (edited, from, to, 1) != 1)
    g_error ("“%s” is not in the small fixture", from);
  g_assert_true (g_file_set_contents (target, edited->str, -1, NULL));

  store = companion_phone_store_open (state_dir, &error);
  g_assert_no_error (error);
  g_assert_false (companion_fixture_load (store, target, NULL, &error));
  g_assert_error (error, COMPANION_FIXTURE_ERROR, code);
  if (strstr (error->message, message_part) == NULL)
    g_error ("“%s” does not contain “%s”", error->message, message_part);
  g_assert_true (companion_phone_store_is_empty (store, NULL));

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

static void
test_fixture_bad (void)
{
  assert_bad_fixture ("\"chat\": \"ch-trip\",\n      \"from\": \"c-olga\"", "\"chat\": \"ch-3\",\n      \"from\": \"c-olga\"",
                      COMPANION_FIXTURE_ERROR_REFERENCE,
                      "messages[7] “m-08”: “chat” refers to an unknown chat “ch-3”");
  assert_bad_fixture ("\"time\": 1717300000000", "\"time\": \"noon\"",
                      COMPANION_FIXTURE_ERROR_INVALID, "messages[3]: message “m-04”");
  assert_bad_fixture ("\"time\": 1717300000000", "\"time\": 1717300000000, \"colour\": 1",
                      COMPANION_FIXTURE_ERROR_INVALID, "colour");
  assert_bad_fixture ("\"participants\": [\n        \"c-omar\"\n      ]",
                      "\"participants\": [\n        \"c-zed\"\n      ]",
                      COMPANION_FIXTURE_ERROR_REFERENCE, "chats[1] “ch-omar”: “participants” refers to an unknown contact “c-zed”");
  assert_bad_fixture ("\"id\": \"m-03\"", "\"id\": \"m-01\"",
                      COMPANION_FIXTURE_ERROR_INVALID, "messages[2] “m-01”: the id is already given at messages[0]");
  assert_bad_fixture ("\"file\": \"media/sunset.png\"", "\"file\": \"media/ticket.pdf\"",
                      COMPANION_FIXTURE_ERROR_FILE, "media[0]");
  assert_bad_fixture ("\"file\": \"media/sunset.png\"", "\"file\": \"../fixture/media/sunset.png\"",
                      COMPANION_FIXTURE_ERROR_FILE, "“..”");
  assert_bad_fixture ("\"file\": \"media/sunset.png\"", "\"file\": \"/etc/passwd\"",
                      COMPANION_FIXTURE_ERROR_FILE, "relative path");
  assert_bad_fixture ("\"file\": \"media/sunset.png\"", "\"file\": \"media/missing.png\"",
                      COMPANION_FIXTURE_ERROR_FILE, "cannot be opened");
  assert_bad_fixture ("\"height\": 12,\n      \"file\": \"media/sunset.png\"", "\"height\": 12",
                      COMPANION_FIXTURE_ERROR_INVALID, "media[0] “");
  assert_bad_fixture ("\"version\": 1", "\"version\": 2", COMPANION_FIXTURE_ERROR_INVALID, "“version”");
  assert_bad_fixture ("\"calls\": [", "\"cals\": [", COMPANION_FIXTURE_ERROR_INVALID, "unknown member “cals”");
  assert_bad_fixture ("\"reply_to\": \"m-07\"", "\"reply_to\": \"m-01\"",
                      COMPANION_FIXTURE_ERROR_REFERENCE, "messages[7] “m-08”: “reply_to” refers to message “m-01” of another chat");
}

static void
test_fixture_symlink_escape (void)
{
  g_autofree char *dir = make_state_dir ();
  g_autofree char *fixture_dir = g_build_filename (dir, "fixture", NULL);
  g_autofree char *outside = g_build_filename (dir, "outside.png", NULL);
  g_autofree char *link = g_build_filename (fixture_dir, "link.png", NULL);
  g_autofree char *fixture = g_build_filename (fixture_dir, "fixture.json", NULL);
  g_autofree char *state_dir = g_build_filename (dir, "state", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPhoneStore) store = NULL;

  g_assert_cmpint (g_mkdir_with_parents (fixture_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (outside, "x", 1, NULL));
  g_assert_cmpint (symlink (outside, link), ==, 0);
  g_assert_true (g_file_set_contents (fixture,
                                      "{\"version\":1,\"media\":[{\"hash\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
                                      "\",\"kind\":\"image\",\"mime\":\"image/png\",\"name\":\"x.png\",\"size\":1,"
                                      "\"file\":\"link.png\"}]}", -1, NULL));
  store = companion_phone_store_open (state_dir, &error);
  g_assert_false (companion_fixture_load (store, fixture, NULL, &error));
  g_assert_error (error, COMPANION_FIXTURE_ERROR, COMPANION_FIXTURE_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "leads out of the fixture's folder"));

  g_clear_object (&store);
  test_util_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/phone-store/apply", test_store_apply);
  g_test_add_func ("/phone-store/refusals", test_store_refusals);
  g_test_add_func ("/phone-store/delete-chat", test_store_delete_chat);
  g_test_add_func ("/phone-store/media", test_store_media);
  g_test_add_func ("/generator/determinism", test_generator_determinism);
  g_test_add_func ("/generator/realism", test_generator_realism);
  g_test_add_func ("/generator/spec", test_generator_spec);
  g_test_add_func ("/fixture/small", test_fixture_small);
  g_test_add_func ("/fixture/bad", test_fixture_bad);
  g_test_add_func ("/fixture/symlink-escape", test_fixture_symlink_escape);

  return g_test_run ();
}
