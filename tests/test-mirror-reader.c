/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>

#include "companion-mirror-reader.h"
#include "test-loop.h"
#include "test-util.h"

/* The UI's reads: a real mirror written through one connection and read
 * through the reader's own, on its worker thread. */

typedef struct
{
  char                  *state_dir;
  CompanionMirrorStore  *store;
  CompanionMirrorReader *reader;
} Fixture;

static void
apply (CompanionMirrorStore *store,
       CompanionEntity       entity,
       const char           *json)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (records, test_util_json_object (json));
  g_assert_true (companion_mirror_store_apply_snapshot (store, entity, records, &error));
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->state_dir = g_dir_make_tmp ("mirror-reader-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->store = companion_mirror_store_open (fixture->state_dir, &error);
  g_assert_no_error (error);

  apply (fixture->store, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Ada\"}");
  apply (fixture->store, COMPANION_ENTITY_CHAT,
         "{\"id\":\"ch-1\",\"kind\":\"direct\",\"title\":\"Ada\",\"participants\":[\"c-1\"],"
         "\"unread\":2,\"pinned\":false,\"muted\":false,\"archived\":false}");
  apply (fixture->store, COMPANION_ENTITY_CHAT,
         "{\"id\":\"ch-2\",\"kind\":\"group\",\"title\":\"Pinned\",\"participants\":[\"c-1\"],"
         "\"unread\":0,\"pinned\":true,\"muted\":false,\"archived\":false}");
  for (int i = 1; i <= 5; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"id\":\"m-%d\",\"chat\":\"ch-1\",\"from\":\"c-1\","
                                               "\"time\":%d000,\"text\":\"hello %d\",\"deleted\":false}",
                                               i, i, i);
      apply (fixture->store, COMPANION_ENTITY_MESSAGE, json);
    }
  g_assert_true (companion_mirror_store_finish_snapshot (fixture->store, 5, &error));

  fixture->reader = companion_mirror_reader_new (fixture->state_dir);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_assert_finalize_object (fixture->reader);
  g_assert_finalize_object (fixture->store);
  test_util_remove_tree (fixture->state_dir);
  g_free (fixture->state_dir);
}

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  WAIT_FOR (*slot != NULL);
  return *slot;
}

static void
test_reads (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(GAsyncResult) chats_result = NULL;
  g_autoptr(GAsyncResult) page1_result = NULL;
  g_autoptr(GAsyncResult) lookup_result = NULL;
  g_autoptr(GAsyncResult) missing_result = NULL;
  g_autoptr(GAsyncResult) count_result = NULL;
  g_autoptr(GAsyncResult) search_result = NULL;
  g_autoptr(GAsyncResult) page2_result = NULL;
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GPtrArray) page1 = NULL;
  g_autoptr(GPtrArray) page2 = NULL;
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(JsonObject) found = NULL;
  g_autoptr(JsonObject) missing = NULL;
  g_autoptr(GError) error = NULL;
  CompanionMirrorChat *first;
  JsonObject *last;

  /* Queued at once: the one worker answers them in order. */
  companion_mirror_reader_list_chats_async (fixture->reader, 0, 0, NULL, on_result, &chats_result);
  companion_mirror_reader_list_messages_async (fixture->reader, "ch-1", 0, NULL, 3, NULL, on_result, &page1_result);
  companion_mirror_reader_lookup_async (fixture->reader, COMPANION_ENTITY_CONTACT, "c-1", NULL, on_result, &lookup_result);
  companion_mirror_reader_lookup_async (fixture->reader, COMPANION_ENTITY_CHAT, "nope", NULL, on_result, &missing_result);
  companion_mirror_reader_count_async (fixture->reader, COMPANION_ENTITY_MESSAGE, NULL, on_result, &count_result);
  companion_mirror_reader_search_async (fixture->reader, "hel", "[", "]", 10, NULL, on_result, &search_result);

  chats = companion_mirror_reader_list_chats_finish (fixture->reader, wait_result (&chats_result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (chats->len, ==, 2);
  first = g_ptr_array_index (chats, 0);
  g_assert_cmpstr (json_object_get_string_member (first->record, "id"), ==, "ch-2");
  g_assert_cmpstr (json_object_get_string_member (((CompanionMirrorChat *) g_ptr_array_index (chats, 1))->record, "id"), ==, "ch-1");
  g_assert_cmpstr (((CompanionMirrorChat *) g_ptr_array_index (chats, 1))->last_message_preview, ==, "hello 5");

  page1 = companion_mirror_reader_list_messages_finish (fixture->reader, wait_result (&page1_result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page1->len, ==, 3);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (page1, 0), "id"), ==, "m-5");
  last = g_ptr_array_index (page1, 2);

  /* The next page starts after the last row of this one. */
  companion_mirror_reader_list_messages_async (fixture->reader, "ch-1",
                                               json_object_get_int_member (last, "time"),
                                               json_object_get_string_member (last, "id"),
                                               3, NULL, on_result, &page2_result);

  found = companion_mirror_reader_lookup_finish (fixture->reader, wait_result (&lookup_result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (found, "name"), ==, "Ada");
  missing = companion_mirror_reader_lookup_finish (fixture->reader, wait_result (&missing_result), &error);
  g_assert_no_error (error);
  g_assert_null (missing);
  g_assert_cmpint (companion_mirror_reader_count_finish (fixture->reader, wait_result (&count_result), &error), ==, 5);
  g_assert_no_error (error);
  hits = companion_mirror_reader_search_finish (fixture->reader, wait_result (&search_result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 5);

  page2 = companion_mirror_reader_list_messages_finish (fixture->reader, wait_result (&page2_result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page2->len, ==, 2);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (page2, 0), "id"), ==, "m-2");
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (page2, 1), "id"), ==, "m-1");
}

/* Writes through the other connection show in the next read. */
static void
test_sees_writes (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GAsyncResult) before = NULL;
  g_autoptr(GAsyncResult) after = NULL;
  g_autoptr(GError) error = NULL;

  companion_mirror_reader_count_async (fixture->reader, COMPANION_ENTITY_CHAT, NULL, on_result, &before);
  g_assert_cmpint (companion_mirror_reader_count_finish (fixture->reader, wait_result (&before), &error), ==, 2);
  apply (fixture->store, COMPANION_ENTITY_CHAT,
         "{\"id\":\"ch-3\",\"kind\":\"direct\",\"title\":\"New\",\"participants\":[\"c-1\"],"
         "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}");
  companion_mirror_reader_count_async (fixture->reader, COMPANION_ENTITY_CHAT, NULL, on_result, &after);
  g_assert_cmpint (companion_mirror_reader_count_finish (fixture->reader, wait_result (&after), &error), ==, 3);
  g_assert_no_error (error);
}

static void
test_cancelled (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  companion_mirror_reader_list_chats_async (fixture->reader, 0, 0, cancellable, on_result, &result);
  chats = companion_mirror_reader_list_chats_finish (fixture->reader, wait_result (&result), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (chats);
}

/* A state folder that cannot hold a database: every read says why. */
static void
test_open_error (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mirror-reader-XXXXXX", &error);
  g_autofree char *bad = g_build_filename (dir, "not-a-folder", NULL);
  g_autoptr(CompanionMirrorReader) reader = NULL;
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;

  g_assert_true (g_file_set_contents (bad, "x", 1, NULL));
  reader = companion_mirror_reader_new (bad);
  companion_mirror_reader_count_async (reader, COMPANION_ENTITY_CHAT, NULL, on_result, &first);
  companion_mirror_reader_list_chats_async (reader, 0, 0, NULL, on_result, &second);
  g_assert_cmpint (companion_mirror_reader_count_finish (reader, wait_result (&first), &error), ==, -1);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "not-a-folder"));
  g_clear_error (&error);
  g_assert_null (companion_mirror_reader_list_chats_finish (reader, wait_result (&second), &error));
  g_assert_nonnull (error);
  g_clear_object (&first);
  g_clear_object (&second);
  g_assert_finalize_object (g_steal_pointer (&reader));
  test_util_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/mirror-reader/reads", Fixture, NULL, fixture_set_up, test_reads, fixture_tear_down);
  g_test_add ("/mirror-reader/sees-writes", Fixture, NULL, fixture_set_up, test_sees_writes, fixture_tear_down);
  g_test_add ("/mirror-reader/cancelled", Fixture, NULL, fixture_set_up, test_cancelled, fixture_tear_down);
  g_test_add_func ("/mirror-reader/open-error", test_open_error);

  return g_test_run ();
}
