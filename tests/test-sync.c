/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sync in process, with real stores and a real loopback tunnel: the first
 * sync, live changes, the desktop's commands and its outbox, and a hostile
 * phone's batches. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "companion-core.h"
#include "companion-desktop-server.h"
#include "companion-desktop-sync.h"
#include "companion-file-key-store.h"
#include "companion-fixture.h"
#include "companion-generator.h"
#include "companion-mirror-store.h"
#include "companion-pairing-offer.h"
#include "companion-phone-client.h"
#include "companion-phone-events.h"
#include "companion-phone-store.h"
#include "companion-phone-sync.h"
#include "companion-record.h"
#include "companion-session-protocol.h"
#include "companion-sync-protocol.h"
#include "companion-tunnel.h"

#include "test-loop.h"
#include "test-util.h"

typedef struct
{
  char                   *root;
  CompanionKeyStore      *key_store;
  CompanionDesktopServer *server;
  CompanionMirrorStore   *mirror;
  CompanionDesktopSync   *desktop_sync;
  CompanionPhoneStore    *phone_store;
  CompanionPhoneEvents   *events;
  CompanionPhoneClient   *client;
  CompanionPhoneSync     *phone_sync;

  guint64                 synced_cursor;
  guint                   n_synced;
  guint                   n_connected;
  guint                   n_disconnected;
  GPtrArray              *done;     /* client ids */
  GPtrArray              *refused;  /* client ids */
  GError                 *sync_error;
  GArray                 *pages;       /* Page, in the order they arrived */
  guint64                 committed;   /* snapshot records committed so far */
  guint                   committed_pages;
  GArray                 *page_sizes;  /* gsize, parallel to pages */
  gboolean                hold_acks;   /* keep the desktop's acks from the phone */
  GPtrArray              *held_acks;   /* JsonObject */
  guint                   acks_delivered;
} Pair;

typedef struct
{
  CompanionEntity entity;
  guint           records;
  guint64         committed_before; /* records committed when it arrived */
  guint           big;              /* records over half a transport message */
} Page;

static void
on_snapshot_page (CompanionDesktopServer *server,
                  const char             *type,
                  JsonObject             *record,
                  Pair                   *pair)
{
  Page page = { 0 };
  JsonNode *records = json_object_get_member (record, "records");

  g_assert_true (companion_entity_from_string (json_object_get_string_member (record, "entity"), &page.entity));
  page.records = json_array_get_length (json_node_get_array (records));
  page.committed_before = pair->committed;
  g_array_append_val (pair->pages, page);
  {
    /* The page's text as the phone writes it around the canonical records. */
    JsonArray *array = json_node_get_array (records);
    g_autofree char *head = g_strdup_printf ("{\"entity\":\"%s\",\"page\":%" G_GINT64_FORMAT ",\"records\":[",
                                             json_object_get_string_member (record, "entity"),
                                             json_object_get_int_member (record, "page"));
    gsize size = strlen (head) + strlen ("],\"type\":\"snapshot\"}");

    for (guint i = 0; i < page.records; i++)
      {
        gsize length = 0;
        g_autofree char *text = companion_canonical_json (json_array_get_element (array, i), &length);

        size += length + (i > 0 ? 1 : 0);
        if (length > COMPANION_TUNNEL_RECORD_TEXT_MAX / 2)
          g_array_index (pair->pages, Page, pair->pages->len - 1).big++;
      }
    g_array_append_val (pair->page_sizes, size);
  }
}

/* Connected before the phone's sync: an ack held here never reaches it. */
static void
on_phone_ack (CompanionPhoneClient *client,
              const char           *type,
              JsonObject           *record,
              Pair                 *pair)
{
  if (!pair->hold_acks)
    {
      pair->acks_delivered++;
      return;
    }
  g_ptr_array_add (pair->held_acks, json_object_ref (record));
  g_signal_stop_emission_by_name (client, "session-record::ack");
}

static void
on_progress (CompanionDesktopSync *sync,
             const char           *entity,
             guint                 records,
             Pair                 *pair)
{
  pair->committed += records;
  pair->committed_pages++;
}

static void
on_synced (CompanionDesktopSync *sync,
           guint64               cursor,
           Pair                 *pair)
{
  pair->synced_cursor = cursor;
  pair->n_synced++;
}

static void
on_sync_failed (CompanionDesktopSync *sync,
                GError               *error,
                Pair                 *pair)
{
  g_clear_error (&pair->sync_error);
  pair->sync_error = g_error_copy (error);
}

static void
on_command_done (CompanionDesktopSync *sync,
                 const char           *client_id,
                 Pair                 *pair)
{
  g_ptr_array_add (pair->done, g_strdup (client_id));
}

static void
on_command_failed (CompanionDesktopSync *sync,
                   const char           *client_id,
                   GError               *error,
                   Pair                 *pair)
{
  g_test_message ("refused: %s", error->message);
  g_ptr_array_add (pair->refused, g_strdup (client_id));
}

static void
on_connected (CompanionDesktopServer *server,
              const char             *name,
              Pair                   *pair)
{
  pair->n_connected++;
}

static void
on_disconnected (CompanionDesktopServer *server,
                 GError                 *error,
                 Pair                   *pair)
{
  pair->n_disconnected++;
}

static char *
export_of (CompanionExport *export)
{
  g_autoptr(CompanionExport) owned = export;

  g_assert_nonnull (export);
  return companion_export_to_string (export, NULL);
}

static char *
mirror_export (Pair *pair)
{
  return export_of (companion_mirror_store_export (pair->mirror, NULL));
}

static char *
phone_export (Pair *pair)
{
  return export_of (companion_phone_store_export (pair->phone_store, NULL));
}

static Pair *
pair_new_with (const char *spec);

static Pair *
pair_new (void)
{
  return pair_new_with (NULL);
}

/* A desktop and a phone that has just started pairing with it; the phone
 * holds the small fixture, or data generated from SPEC when not NULL. */
static Pair *
pair_start_with (const char *spec)
{
  Pair *pair = g_new0 (Pair, 1);
  g_autofree char *desk = NULL;
  g_autofree char *phone = NULL;
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "fixture-small", "fixture.json", NULL);
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GError) error = NULL;
  CompanionFixtureCounts counts = { 0 };

  pair->root = g_dir_make_tmp ("companion-sync-XXXXXX", NULL);
  desk = g_build_filename (pair->root, "desktop", NULL);
  phone = g_build_filename (pair->root, "phone", NULL);
  g_mkdir_with_parents (desk, 0700);
  g_mkdir_with_parents (phone, 0700);
  pair->done = g_ptr_array_new_with_free_func (g_free);
  pair->refused = g_ptr_array_new_with_free_func (g_free);

  pair->phone_store = companion_phone_store_open (phone, &error);
  g_assert_no_error (error);
  if (spec == NULL)
    g_assert_true (companion_fixture_load (pair->phone_store, fixture, &counts, &error));
  else
    {
      CompanionGeneratorSpec parsed;

      g_assert_true (companion_generator_parse_spec (spec, &parsed, &error));
      g_assert_true (companion_generator_run (pair->phone_store, &parsed, NULL, &error));
    }
  g_assert_no_error (error);
  pair->events = companion_phone_events_new (pair->phone_store, &error);
  g_assert_no_error (error);

  pair->key_store = COMPANION_KEY_STORE (companion_file_key_store_new (desk));
  pair->server = companion_desktop_server_new (desk, pair->key_store, &error);
  g_assert_no_error (error);
  address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (loopback, 0));
  g_assert_true (companion_desktop_server_listen (pair->server, address, &error));
  g_assert_no_error (error);
  pair->mirror = companion_mirror_store_open (desk, &error);
  g_assert_no_error (error);
  pair->desktop_sync = companion_desktop_sync_new (pair->server, pair->mirror);
  pair->pages = g_array_new (FALSE, FALSE, sizeof (Page));
  pair->page_sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_signal_connect (pair->server, "session-record::snapshot", G_CALLBACK (on_snapshot_page), pair);
  g_signal_connect (pair->desktop_sync, "progress", G_CALLBACK (on_progress), pair);
  g_signal_connect (pair->desktop_sync, "synced", G_CALLBACK (on_synced), pair);
  g_signal_connect (pair->desktop_sync, "failed", G_CALLBACK (on_sync_failed), pair);
  g_signal_connect (pair->desktop_sync, "command-done", G_CALLBACK (on_command_done), pair);
  g_signal_connect (pair->desktop_sync, "command-failed", G_CALLBACK (on_command_failed), pair);
  g_signal_connect (pair->server, "connected", G_CALLBACK (on_connected), pair);
  g_signal_connect (pair->server, "disconnected", G_CALLBACK (on_disconnected), pair);

  pair->client = companion_phone_client_new (phone, "Test phone", &error);
  g_assert_no_error (error);
  companion_phone_client_set_timing (pair->client, 30000, 90000, 50, 200);
  pair->held_acks = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_signal_connect (pair->client, "session-record::ack", G_CALLBACK (on_phone_ack), pair);
  pair->phone_sync = companion_phone_sync_new (pair->client, pair->phone_store);
  companion_phone_client_pair (pair->client,
                               companion_pairing_offer_get_payload (companion_desktop_server_get_offer (pair->server)));
  return pair;
}

/* The same after the first sync: everything up to the phone's last change. */
static Pair *
pair_new_with (const char *spec)
{
  Pair *pair = pair_start_with (spec);

  WAIT_FOR (pair->synced_cursor == companion_phone_store_get_last_seq (pair->phone_store));
  return pair;
}

static void
pair_free (Pair *pair)
{
  g_signal_handlers_disconnect_by_data (pair->desktop_sync, pair);
  g_signal_handlers_disconnect_by_data (pair->server, pair);
  g_clear_object (&pair->phone_sync);
  companion_phone_client_stop (pair->client);
  g_clear_object (&pair->client);
  g_clear_object (&pair->desktop_sync);
  g_clear_object (&pair->server);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_clear_object (&pair->mirror);
  g_clear_object (&pair->events);
  g_clear_object (&pair->phone_store);
  g_clear_object (&pair->key_store);
  g_ptr_array_unref (pair->done);
  g_ptr_array_unref (pair->refused);
  g_array_unref (pair->pages);
  g_ptr_array_unref (pair->held_acks);
  g_array_unref (pair->page_sizes);
  g_clear_error (&pair->sync_error);
  g_free (pair->root);
  g_free (pair);
}

static void
apply_phone_event (Pair       *pair,
                   const char *type,
                   const char *fields_json)
{
  g_autoptr(JsonObject) fields = test_util_json_object (fields_json);
  g_autoptr(GError) error = NULL;

  companion_phone_events_apply (pair->events, type, fields, &error);
  g_assert_no_error (error);
  companion_phone_sync_changes_added (pair->phone_sync);
}

static void
test_first_sync_and_live (void)
{
  Pair *pair = pair_new ();
  g_autofree char *desk = mirror_export (pair);
  g_autofree char *phone = phone_export (pair);
  g_autofree char *desk_after = NULL;
  g_autofree char *phone_after = NULL;

  g_assert_cmpstr (desk, ==, phone);
  g_assert_cmpint (companion_mirror_store_count (pair->mirror, COMPANION_ENTITY_CHAT, NULL), ==, 3);

  /* Live: an incoming message and a rename arrive as changes. */
  apply_phone_event (pair, "message-in", "{\"chat\": \"ch-ana\", \"text\": \"live ¡hola! 👋\"}");
  apply_phone_event (pair, "chat", "{\"chat\": \"ch-trip\", \"title\": \"Lisboa 2026\"}");
  WAIT_FOR (pair->synced_cursor == companion_phone_store_get_last_seq (pair->phone_store));
  desk_after = mirror_export (pair);
  phone_after = phone_export (pair);
  g_assert_cmpstr (desk_after, ==, phone_after);
  g_assert_nonnull (strstr (desk_after, "live ¡hola! 👋"));
  g_assert_nonnull (strstr (desk_after, "Lisboa 2026"));
  pair_free (pair);
}

/* The chat list (contacts, chats, the media the previews show, the
 * previews) is committed before the first page of history arrives. */
static void
test_chat_list_first (void)
{
  Pair *pair = pair_new_with ("chats=40,messages=6000,media=30,calls=200,seed=3");
  gint64 chats = companion_phone_store_count (pair->phone_store, COMPANION_ENTITY_CHAT, NULL);
  guint64 before = 0;
  guint64 previews = 0;
  guint i = 0;
  const Page *page;

  /* Contacts, then chats. */
  for (; i < pair->pages->len && g_array_index (pair->pages, Page, i).entity == COMPANION_ENTITY_CONTACT; i++)
    before += g_array_index (pair->pages, Page, i).records;
  for (; i < pair->pages->len && g_array_index (pair->pages, Page, i).entity == COMPANION_ENTITY_CHAT; i++)
    before += g_array_index (pair->pages, Page, i).records;
  g_assert_cmpuint (before, >, (guint64) chats);
  /* The previews' media, then at most one preview a chat. */
  for (; i < pair->pages->len && g_array_index (pair->pages, Page, i).entity == COMPANION_ENTITY_MEDIA; i++)
    before += g_array_index (pair->pages, Page, i).records;
  for (; i < pair->pages->len && g_array_index (pair->pages, Page, i).entity == COMPANION_ENTITY_MESSAGE &&
         previews < (guint64) chats; i++)
    {
      previews += g_array_index (pair->pages, Page, i).records;
      before += g_array_index (pair->pages, Page, i).records;
    }
  g_assert_cmpuint (previews, >, 0);
  g_assert_cmpuint (previews, <=, (guint64) chats);

  /* The next page is history: it came only once all of that was committed. */
  g_assert_cmpuint (i, <, pair->pages->len);
  page = &g_array_index (pair->pages, Page, i);
  g_test_message ("chat list: %u pages, %" G_GUINT64_FORMAT " records; the first history page "
                  "arrived with %" G_GUINT64_FORMAT " committed", i, before, page->committed_before);
  g_assert_cmpuint (page->committed_before, ==, before);
  g_assert_cmpuint (companion_mirror_store_count (pair->mirror, COMPANION_ENTITY_MESSAGE, NULL), ==,
                    companion_phone_store_count (pair->phone_store, COMPANION_ENTITY_MESSAGE, NULL));
  pair_free (pair);
}

/* Whether a page of all media (after the previews' messages) came: the
 * phone sends history only once the chat list is acknowledged. */
static gboolean
history_started (Pair *pair)
{
  gboolean previews = FALSE;

  for (guint i = 0; i < pair->pages->len; i++)
    {
      CompanionEntity entity = g_array_index (pair->pages, Page, i).entity;

      if (entity == COMPANION_ENTITY_MESSAGE)
        previews = TRUE;
      else if (entity == COMPANION_ENTITY_MEDIA && previews)
        return TRUE;
    }
  return FALSE;
}

/* The phone keeps at most COMPANION_SYNC_WINDOW pages unacknowledged:
 * with the desktop's acks held back on their way, exactly that many are
 * sent, and the rest once the acks arrive. */
static void
test_sync_window (void)
{
  Pair *pair = pair_start_with ("chats=40,messages=40000,media=30,calls=200,seed=4");
  g_autofree char *desk = NULL;
  g_autofree char *phone = NULL;
  guint sent;

  /* Once history flows (after the chat list), the acks stop. */
  WAIT_FOR (history_started (pair));
  pair->hold_acks = TRUE;
  WAIT_FOR (pair->pages->len - pair->acks_delivered >= COMPANION_SYNC_WINDOW);
  test_loop_spin (300);
  sent = pair->pages->len;
  g_test_message ("%u pages sent, %u acknowledged, %u acks held", sent, pair->acks_delivered,
                  pair->held_acks->len);
  g_assert_cmpuint (sent - pair->acks_delivered, ==, COMPANION_SYNC_WINDOW);

  /* The acks arrive: the rest comes. */
  pair->hold_acks = FALSE;
  for (guint i = 0; i < pair->held_acks->len; i++)
    g_signal_emit_by_name (pair->client, "session-record::ack", "ack", g_ptr_array_index (pair->held_acks, i));
  WAIT_FOR (pair->synced_cursor == companion_phone_store_get_last_seq (pair->phone_store));
  g_assert_cmpuint (pair->pages->len, >, sent);
  g_assert_null (pair->sync_error);
  desk = mirror_export (pair);
  phone = phone_export (pair);
  g_assert_true (g_str_equal (desk, phone));
  pair_free (pair);
}

/* The snapshot page at its edge: a page is at most one transport message
 * of text, so two messages of the longest text (49 152 bytes) never share
 * one, and each still travels whole with whatever else fits. Page sizes are counted as the phone
 * writes them, from the records' canonical JSON. */
static void
test_page_edge (void)
{
  Pair *pair = pair_start_with (NULL);
  g_autofree char *longest = g_strnfill (49152, 'x');
  g_autofree char *fields = g_strdup_printf ("{\"chat\": \"ch-ana\", \"text\": \"%s\"}", longest);
  g_autofree char *desk = NULL;
  g_autofree char *phone = NULL;
  guint big = 0;

  apply_phone_event (pair, "message-in", fields);
  apply_phone_event (pair, "message-in", fields);
  WAIT_FOR (pair->synced_cursor == companion_phone_store_get_last_seq (pair->phone_store));

  for (guint i = 0; i < pair->page_sizes->len; i++)
    {
      gsize size = g_array_index (pair->page_sizes, gsize, i);
      const Page *page = &g_array_index (pair->pages, Page, i);

      g_assert_cmpuint (size, <=, COMPANION_TUNNEL_RECORD_TEXT_MAX);
      g_assert_cmpuint (page->big, <=, 1);
      big += page->big;
    }
  /* Both, and the newest once more as its chat's preview. */
  g_assert_cmpuint (big, ==, 3);
  desk = mirror_export (pair);
  phone = phone_export (pair);
  g_assert_true (g_str_equal (desk, phone));
  g_assert_nonnull (strstr (desk, longest));
  pair_free (pair);
}

static void
test_commands (void)
{
  Pair *pair = pair_new ();
  g_autoptr(JsonObject) send = test_util_json_object ("{\"chat\": \"ch-ana\", \"text\": \"sent from the desktop\"}");
  g_autoptr(JsonObject) bad = test_util_json_object ("{\"chat\": \"ch-nobody\", \"text\": \"lost\"}");
  g_autoptr(JsonObject) read = test_util_json_object ("{\"chat\": \"ch-omar\"}");
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) repeat = json_object_new ();
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;
  g_autofree char *bad_id = NULL;
  g_autofree char *read_id = NULL;
  g_autofree char *later_id = NULL;
  g_autoptr(JsonObject) later = test_util_json_object ("{\"chat\": \"ch-omar\", \"text\": \"later\"}");
  g_autofree char *desk = NULL;
  g_autofree char *phone = NULL;
  guint64 seq;

  client_id = companion_desktop_sync_queue_command (pair->desktop_sync, "message-out", send, &error);
  g_assert_no_error (error);
  read_id = companion_desktop_sync_queue_command (pair->desktop_sync, "read", read, &error);
  g_assert_no_error (error);
  WAIT_FOR (pair->done->len == 2);
  WAIT_FOR (pair->synced_cursor == companion_phone_store_get_last_seq (pair->phone_store));

  /* The phone carried it out; it came back as an ordinary change. */
  message = companion_mirror_store_lookup (pair->mirror, COMPANION_ENTITY_MESSAGE, client_id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, "sent from the desktop");
  g_assert_false (json_object_has_member (message, "from"));
  outbox = companion_mirror_store_outbox_list (pair->mirror, &error);
  g_assert_cmpuint (outbox->len, ==, 0);

  /* A resent command (the acknowledgement was lost) changes nothing. */
  seq = companion_phone_store_get_last_seq (pair->phone_store);
  json_object_set_string_member (repeat, "type", "command");
  json_object_set_string_member (repeat, "client_id", client_id);
  json_object_set_string_member (repeat, "event", "message-out");
  json_object_set_object_member (repeat, "fields", json_object_ref (send));
  g_assert_true (companion_desktop_server_send_record (pair->server, repeat, &error));
  g_assert_no_error (error);
  /* The phone takes a session's records in order: once a later command is
   * done, the repeat was handled, and only the later one changed anything. */
  g_clear_pointer (&later_id, g_free);
  later_id = companion_desktop_sync_queue_command (pair->desktop_sync, "message-out", later, &error);
  g_assert_no_error (error);
  WAIT_FOR (pair->done->len == 3);
  g_assert_cmpstr (g_ptr_array_index (pair->done, 2), ==, later_id);
  g_assert_cmpuint (companion_phone_store_get_last_seq (pair->phone_store), ==, seq + 1);

  /* A command the phone cannot carry out is refused and leaves the outbox. */
  bad_id = companion_desktop_sync_queue_command (pair->desktop_sync, "message-out", bad, &error);
  g_assert_no_error (error);
  WAIT_FOR (pair->refused->len == 1);
  g_assert_cmpstr (g_ptr_array_index (pair->refused, 0), ==, bad_id);
  g_clear_pointer (&outbox, g_ptr_array_unref);
  outbox = companion_mirror_store_outbox_list (pair->mirror, &error);
  g_assert_cmpuint (outbox->len, ==, 0);

  /* Only what the desktop may ask. */
  g_assert_null (companion_desktop_sync_queue_command (pair->desktop_sync, "message-in", send, &error));
  g_assert_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD);
  g_clear_error (&error);

  desk = mirror_export (pair);
  phone = phone_export (pair);
  g_assert_cmpstr (desk, ==, phone);
  pair_free (pair);
}

static void
test_outbox_while_away (void)
{
  Pair *pair = pair_new ();
  g_autoptr(JsonObject) send = test_util_json_object ("{\"chat\": \"ch-trip\", \"text\": \"written offline\"}");
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;
  guint disconnected = pair->n_disconnected;
  guint connected = pair->n_connected;

  companion_phone_client_set_online (pair->client, FALSE);
  WAIT_FOR (pair->n_disconnected > disconnected);

  client_id = companion_desktop_sync_queue_command (pair->desktop_sync, "message-out", send, &error);
  g_assert_no_error (error);
  outbox = companion_mirror_store_outbox_list (pair->mirror, &error);
  g_assert_cmpuint (outbox->len, ==, 1);

  companion_phone_client_set_online (pair->client, TRUE);
  WAIT_FOR (pair->n_connected > connected);
  WAIT_FOR (pair->done->len == 1);
  WAIT_FOR (pair->synced_cursor == companion_phone_store_get_last_seq (pair->phone_store));
  message = companion_mirror_store_lookup (pair->mirror, COMPANION_ENTITY_MESSAGE, client_id, &error);
  g_assert_nonnull (message);
  g_clear_pointer (&outbox, g_ptr_array_unref);
  outbox = companion_mirror_store_outbox_list (pair->mirror, &error);
  g_assert_cmpuint (outbox->len, ==, 0);
  pair_free (pair);
}

/* A hostile or broken phone: bad batches are refused whole. */
static void
test_bad_batches (void)
{
  Pair *pair = pair_new ();
  g_autofree char *before = mirror_export (pair);
  g_autofree char *after = NULL;
  guint64 cursor = pair->synced_cursor;
  /* SEQ stands for the next seq (the gap case skips one). */
  const char *batches[] = {
    /* a gap */
    "{\"type\":\"changes\",\"changes\":[{\"seq\":GAP,\"op\":\"delete\",\"entity\":\"call\",\"id\":\"k-1\"}]}",
    /* an unknown entity */
    "{\"type\":\"changes\",\"changes\":[{\"seq\":SEQ,\"op\":\"upsert\",\"entity\":\"poll\",\"record\":{}}]}",
    /* a message in an unknown chat */
    "{\"type\":\"changes\",\"changes\":[{\"seq\":SEQ,\"op\":\"upsert\",\"entity\":\"message\",\"record\":"
    "{\"id\":\"m-x\",\"chat\":\"ch-none\",\"time\":1,\"text\":\"x\",\"deleted\":false}}]}",
    /* a mistyped field */
    "{\"type\":\"changes\",\"changes\":[{\"seq\":SEQ,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":"
    "{\"id\":\"c-x\",\"name\":42}}]}",
  };
  g_autofree char *next = g_strdup_printf ("%" G_GUINT64_FORMAT, cursor + 1);
  g_autofree char *gap = g_strdup_printf ("%" G_GUINT64_FORMAT, cursor + 2);

  for (gsize i = 0; i < G_N_ELEMENTS (batches); i++)
    {
      g_autoptr(GString) text = g_string_new (batches[i]);
      g_autoptr(JsonObject) batch = NULL;
      g_autoptr(GError) error = NULL;

      g_string_replace (text, "GAP", gap, 0);
      g_string_replace (text, "SEQ", next, 0);
      batch = test_util_json_object (text->str);
      g_clear_error (&pair->sync_error);
      g_assert_true (companion_phone_client_send_record (pair->client, batch, &error));
      g_assert_no_error (error);
      WAIT_FOR (pair->sync_error != NULL);
      g_test_message ("refused: %s", pair->sync_error->message);

      /* Refused whole. */
      g_assert_cmpuint (companion_mirror_store_get_cursor (pair->mirror), ==, cursor);
      after = mirror_export (pair);
      g_assert_cmpstr (after, ==, before);
      g_clear_pointer (&after, g_free);

      /* The rest of that session is ignored; a new one starts clean and
       * hears that it is up to date. */
      {
        guint disconnected = pair->n_disconnected;
        guint synced = pair->n_synced;

        companion_phone_client_set_online (pair->client, FALSE);
        WAIT_FOR (pair->n_disconnected > disconnected);
        companion_phone_client_set_online (pair->client, TRUE);
        WAIT_FOR (pair->n_synced > synced);
        g_assert_cmpuint (pair->synced_cursor, ==, cursor);
      }
    }
  pair_free (pair);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_true (companion_core_init (NULL));

  g_test_add_func ("/sync/first-sync-and-live", test_first_sync_and_live);
  g_test_add_func ("/sync/chat-list-first", test_chat_list_first);
  g_test_add_func ("/sync/window", test_sync_window);
  g_test_add_func ("/sync/page-edge", test_page_edge);
  g_test_add_func ("/sync/commands", test_commands);
  g_test_add_func ("/sync/outbox-while-away", test_outbox_while_away);
  g_test_add_func ("/sync/bad-batches", test_bad_batches);

  return g_test_run ();
}
