/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "companion-chat-row.h"
#include "companion-core.h"
#include "companion-file-key-store.h"
#include "companion-message-row.h"
#include "companion-window.h"
#include "test-loop.h"
#include "test-process.h"
#include "test-util.h"

/* The real window under X (Xvfb), driven as a person would: the phone
 * simulator pairs by scanning a screenshot of it, then the chat list, a
 * conversation, a live message and the composer are checked through the
 * rows' accessible labels, and what was sent through the phone's export. */

typedef struct
{
  char            *dir;
  char            *desk_dir;
  char            *phone_dir;
  CompanionEngine *engine;
  CompanionWindow *window;
  TestProcess     *phone;
} Session;

static Session session;

/* What a camera would see: the window rendered to a PNG. */
static void
screenshot (GtkWidget  *widget,
            const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

static void
collect_rows (GtkWidget *widget,
              GType      type,
              GPtrArray *rows)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (G_TYPE_CHECK_INSTANCE_TYPE (child, type))
        g_ptr_array_add (rows, child);
      else
        collect_rows (child, type, rows);
    }
}

/* The accessible labels of the rows of LIST in the order shown, checked
 * against what assistive technologies are given. */
static GPtrArray *
row_labels (GtkListView *list,
            GType        type)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);

  collect_rows (GTK_WIDGET (list), type, rows);
  for (guint i = 0; i < rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (rows, i);
      const char *label = type == COMPANION_TYPE_CHAT_ROW
                          ? companion_chat_row_get_description (COMPANION_CHAT_ROW (row))
                          : companion_message_row_get_description (COMPANION_MESSAGE_ROW (row));
      g_autofree char *mismatch = NULL;

      if (label == NULL || !gtk_widget_get_mapped (row))
        continue;
      mismatch = gtk_test_accessible_check_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, label);
      g_assert_null (mismatch);
      g_ptr_array_add (labels, g_strdup (label));
    }
  return labels;
}

static gboolean
labels_match (GPtrArray         *labels,
              const char * const *prefixes)
{
  guint n = g_strv_length ((char **) prefixes);

  if (labels->len != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_str_has_prefix (g_ptr_array_index (labels, i), prefixes[i]))
      return FALSE;
  return TRUE;
}

static gboolean
chat_rows_are (const char * const *prefixes)
{
  g_autoptr(GPtrArray) labels = row_labels (companion_window_get_chat_list_view (session.window),
                                            COMPANION_TYPE_CHAT_ROW);
  return labels_match (labels, prefixes);
}

static gboolean
some_message_row (const char *needle)
{
  CompanionConversationView *view = companion_window_get_conversation (session.window);
  g_autoptr(GPtrArray) labels = row_labels (companion_conversation_view_get_list_view (view),
                                            COMPANION_TYPE_MESSAGE_ROW);

  for (guint i = 0; i < labels->len; i++)
    if (strstr (g_ptr_array_index (labels, i), needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
test_pair_from_screenshot (void)
{
  g_autoptr(CompanionKeyStore) key_store = NULL;
  g_autoptr(CompanionDesktopServer) server = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, test_util_free_port ());
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autofree char *png = g_build_filename (session.dir, "window.png", NULL);
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "fixture-small", "fixture.json", NULL);

  key_store = COMPANION_KEY_STORE (companion_file_key_store_new (session.desk_dir));
  server = companion_desktop_server_new (session.desk_dir, key_store, &error);
  g_assert_no_error (error);
  session.engine = companion_engine_new (server, session.desk_dir, &error);
  g_assert_no_error (error);
  g_assert_true (companion_desktop_server_listen (server, G_INET_SOCKET_ADDRESS (address), &error));
  session.window = g_object_ref_sink (companion_window_new (NULL, session.engine, NULL));
  gtk_window_set_default_size (GTK_WINDOW (session.window), 1000, 720);
  gtk_window_present (GTK_WINDOW (session.window));
  WAIT_FOR (gtk_widget_get_mapped (GTK_WIDGET (session.window)) &&
            companion_desktop_server_get_offer (server) != NULL);
  test_loop_spin (300);

  screenshot (GTK_WIDGET (session.window), png);
  session.phone = test_process_start (g_getenv ("COMPANION_PHONE"), "scan", png, "--json",
                                      "--state-dir", session.phone_dir, "--name", "Test Phone",
                                      "--fixture", fixture, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (session.phone, "connected");
  WAIT_FOR (companion_desktop_server_is_paired (server));
}

static void
test_chat_list (void)
{
  const char * const after_sync[] = {
    "Ana Núñez, 1 unread message, pinned",
    "Weekend trip 🏔️, 2 unread messages, archived",
    "عمر الخطيب, muted: voice-note.wav",
    NULL
  };

  g_assert_nonnull (session.phone);
  WAIT_FOR (chat_rows_are (after_sync));
  WAIT_FOR (g_str_has_prefix (companion_window_get_status (session.window), "Connected to Test Phone"));
}

static void
test_open_conversation (void)
{
  const char * const read[] = {
    "Ana Núñez, 1 unread message, pinned",
    "Weekend trip 🏔️, archived",
    "عمر الخطيب, muted: voice-note.wav",
    NULL
  };

  g_assert_nonnull (session.phone);
  companion_window_open_chat (session.window, 1);
  /* Sender names in a group, the quote of a reply, reactions, media. */
  WAIT_FOR (some_message_row ("王美, attachment ticket.pdf"));
  WAIT_FOR (some_message_row ("Ольга Смирнова, replying to “车票在这里"));
  WAIT_FOR (some_message_row ("You: Line one\nLine two\ttab"));
  /* Opening it marked it read on the phone, and the change came back. */
  WAIT_FOR (chat_rows_are (read));
}

static void
test_live_message (void)
{
  g_assert_nonnull (session.phone);
  test_process_send (session.phone, "{\"type\":\"message-in\",\"chat\":\"ch-trip\",\"from\":\"c-olga\","
                                    "\"text\":\"A live hello\"}");
  WAIT_FOR (some_message_row ("Ольга Смирнова: A live hello"));
}

static void
test_send_text (void)
{
  CompanionConversationView *view = companion_window_get_conversation (session.window);
  GtkTextView *composer = companion_conversation_view_get_composer (view);

  g_assert_nonnull (session.phone);
  /* Away: the message waits, visibly. */
  test_process_send (session.phone, "{\"type\":\"offline\"}");
  WAIT_FOR (strstr (companion_window_get_status (session.window), "offline") != NULL);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (composer), "Sent from the desktop 🚀", -1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "conversation.send", NULL));
  WAIT_FOR (some_message_row ("You: Sent from the desktop 🚀") &&
            some_message_row ("waiting for the phone"));

  /* Back: the phone carries it out and its change replaces the pending one. */
  test_process_send (session.phone, "{\"type\":\"online\"}");
  WAIT_FOR (some_message_row ("You: Sent from the desktop 🚀") && !some_message_row ("waiting for the phone"));
}

static void
test_send_file (void)
{
  CompanionConversationView *view = companion_window_get_conversation (session.window);
  g_autofree char *path = g_build_filename (session.dir, "desktop-notes.txt", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);

  g_assert_nonnull (session.phone);
  g_assert_true (g_file_set_contents (path, "Notes written on the desktop\n", -1, NULL));
  companion_conversation_view_send_file (view, file);
  /* The phone's message with the media comes back and its record is read. */
  WAIT_FOR (some_message_row ("You, attachment desktop-notes.txt"));
}

static void
test_phone_export (void)
{
  g_autofree char *output = NULL;

  g_assert_nonnull (session.phone);
  test_process_send (session.phone, "{\"type\":\"quit\"}");
  g_assert_cmpint (test_process_finish (g_steal_pointer (&session.phone)), ==, 0);
  output = test_process_export (test_process_program ("COMPANION_PHONE"), session.phone_dir);
  g_assert_nonnull (strstr (output, "\"text\":\"Sent from the desktop 🚀\""));
  g_assert_nonnull (strstr (output, "\"name\":\"desktop-notes.txt\""));
  WAIT_FOR (strstr (companion_window_get_status (session.window), "offline") != NULL);
}

int
main (int   argc,
      char *argv[])
{
  const char *system_data_dirs = g_getenv ("XDG_DATA_DIRS");
  g_autofree char *data_dirs = g_strdup (system_data_dirs != NULL ? system_data_dirs : "/usr/local/share:/usr/share");
  int result;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (g_getenv ("DISPLAY") == NULL)
    {
      g_test_skip ("No X display: run under xvfb-run");
      return 77;
    }
  g_assert_true (companion_core_init (NULL));
  gtk_init ();
  adw_init ();

  session.dir = g_dir_make_tmp ("test-gui-XXXXXX", NULL);
  session.desk_dir = g_build_filename (session.dir, "desktop", NULL);
  session.phone_dir = g_build_filename (session.dir, "phone", NULL);
  g_mkdir_with_parents (session.desk_dir, 0700);
  test_process_isolated_env (g_get_user_data_dir (), data_dirs);

  /* In order: each step starts where the one before left the session. */
  g_test_add_func ("/gui/pair-from-screenshot", test_pair_from_screenshot);
  g_test_add_func ("/gui/chat-list", test_chat_list);
  g_test_add_func ("/gui/open-conversation", test_open_conversation);
  g_test_add_func ("/gui/live-message", test_live_message);
  g_test_add_func ("/gui/send-text", test_send_text);
  g_test_add_func ("/gui/send-file", test_send_file);
  g_test_add_func ("/gui/phone-export", test_phone_export);
  result = g_test_run ();

  if (session.phone != NULL)
    test_process_kill (session.phone);
  if (session.window != NULL)
    gtk_window_destroy (GTK_WINDOW (session.window));
  g_clear_object (&session.window);
  test_loop_drain ();
  g_clear_object (&session.engine);
  test_util_remove_tree (session.dir);
  g_free (session.dir);
  g_free (session.desk_dir);
  g_free (session.phone_dir);
  return result;
}
