/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "companion-about.h"
#include "companion-application.h"
#include "companion-calls-view.h"
#include "companion-core.h"
#include "companion-desktop-sync.h"
#include "companion-engine.h"
#include "companion-file-key-store.h"
#include "companion-notifier.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-preferences-window.h"
#include "companion-qr-code.h"
#include "companion-search-view.h"
#include "companion-unlink-dialog.h"
#include "companion-window.h"
#include "test-loop.h"
#include "test-process.h"
#include "test-util.h"

/* The app's views as real widgets under X (tests/meson.build runs this in
 * xvfb-run inside dbus-run-session), reading real mirrors through the
 * mirror reader; unlinking and notifications with a real paired
 * companion-phone; notifications observed as the D-Bus calls they are. */

static char *system_data_dirs;

/* ---- helpers ------------------------------------------------------------------ */

static void
collect_widgets (GtkWidget *widget,
                 GType      type,
                 GPtrArray *found)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    g_ptr_array_add (found, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_widgets (child, type, found);
}

static gpointer
find_widget (GtkWidget *root,
             GType      type)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new ();

  collect_widgets (root, type, found);
  g_assert_cmpuint (found->len, >, 0);
  return g_ptr_array_index (found, 0);
}

/* Every control a person can operate has a name a screen reader can say:
 * an accessible label, a labelling widget, or a visible label of its own. */
static void
assert_controls_named (GtkWidget *root)
{
  const GType controls[] = { GTK_TYPE_BUTTON, GTK_TYPE_SWITCH, GTK_TYPE_SPIN_BUTTON,
                             GTK_TYPE_SEARCH_ENTRY, GTK_TYPE_LIST_BOX };

  for (guint t = 0; t < G_N_ELEMENTS (controls); t++)
    {
      g_autoptr(GPtrArray) found = g_ptr_array_new ();

      collect_widgets (root, controls[t], found);
      for (guint i = 0; i < found->len; i++)
        {
          GtkWidget *widget = g_ptr_array_index (found, i);
          gboolean named = gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL) ||
                           gtk_test_accessible_has_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY) ||
                           (GTK_IS_BUTTON (widget) && gtk_button_get_label (GTK_BUTTON (widget)) != NULL) ||
                           gtk_widget_get_tooltip_text (widget) != NULL;

          /* Hidden widgets, the window frame's own and a spin button's
           * steppers (the spin button is named) are not ours to name. */
          if (!gtk_widget_get_mapped (widget) ||
              gtk_widget_get_ancestor (widget, GTK_TYPE_WINDOW_CONTROLS) != NULL ||
              (widget != gtk_widget_get_ancestor (widget, GTK_TYPE_SPIN_BUTTON) &&
               gtk_widget_get_ancestor (widget, GTK_TYPE_SPIN_BUTTON) != NULL))
            continue;
          if (!named)
            g_test_message ("unnamed %s (css name %s)", G_OBJECT_TYPE_NAME (widget),
                            gtk_widget_get_css_name (widget));
          g_assert_true (named);
        }
    }
}

static GtkWindow *
show_in_window (GtkWidget *child)
{
  GtkWindow *window = GTK_WINDOW (gtk_window_new ());

  gtk_window_set_default_size (window, 600, 500);
  gtk_window_set_child (window, child);
  gtk_window_present (window);
  WAIT_FOR (gtk_widget_get_mapped (child));
  return window;
}

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

static gint64
local_noon_ms (int days_ago)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) noon = g_date_time_new_local (g_date_time_get_year (now), g_date_time_get_month (now),
                                                    g_date_time_get_day_of_month (now), 12, 0, 0);
  g_autoptr(GDateTime) day = g_date_time_add_days (noon, -days_ago);

  return g_date_time_to_unix (day) * 1000;
}

static void
add_call (CompanionMirrorStore *store,
          const char           *id,
          gint64                time,
          const char           *rest)
{
  g_autofree char *json = g_strdup_printf ("{\"id\":\"%s\",\"time\":%" G_GINT64_FORMAT ",%s}", id, time, rest);

  apply (store, COMPANION_ENTITY_CALL, json);
}

static void
on_signal_count (guint *count)
{
  (*count)++;
}

/* ---- calls view ---------------------------------------------------------------- */

typedef struct
{
  char                  *dir;
  CompanionMirrorStore  *store;
  CompanionMirrorReader *reader;
} Mirror;

static Mirror *
mirror_new (void)
{
  Mirror *mirror = g_new0 (Mirror, 1);
  g_autoptr(GError) error = NULL;

  mirror->dir = g_dir_make_tmp ("app-views-XXXXXX", &error);
  g_assert_no_error (error);
  mirror->store = companion_mirror_store_open (mirror->dir, &error);
  g_assert_no_error (error);
  apply (mirror->store, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-ana\",\"name\":\"Ana Núñez\"}");
  apply (mirror->store, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-bob\",\"name\":\"Bob <b>&amp;</b>\"}");
  return mirror;
}

static void
mirror_ready (Mirror *mirror)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_mirror_store_finish_snapshot (mirror->store, 1, &error));
  g_assert_no_error (error);
  mirror->reader = companion_mirror_reader_new (mirror->dir);
}

static void
mirror_free (Mirror *mirror)
{
  g_clear_object (&mirror->reader);
  g_clear_object (&mirror->store);
  test_loop_drain ();
  test_util_remove_tree (mirror->dir);
  g_free (mirror->dir);
  g_free (mirror);
}

static GtkListBoxRow *
row_at (GtkListBox *list,
        int         index)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (list, index);

  g_assert_nonnull (row);
  return row;
}

static const char *
row_header (GtkListBox *list,
            int         index)
{
  GtkWidget *header = gtk_list_box_row_get_header (row_at (list, index));

  return header != NULL ? gtk_label_get_label (GTK_LABEL (header)) : NULL;
}

/* The calls view of MIRROR in a window, once its first page is shown. */
static GtkWindow *
show_calls (Mirror              *mirror,
            CompanionCallsView **view_out,
            guint               *loaded)
{
  GtkWindow *window;

  mirror_ready (mirror);
  *view_out = companion_calls_view_new (mirror->reader);
  g_signal_connect_swapped (*view_out, "loaded", G_CALLBACK (on_signal_count), loaded);
  window = show_in_window (GTK_WIDGET (*view_out));
  WAIT_FOR (*loaded >= 1);
  return window;
}

static void
test_calls_groups_and_rows (void)
{
  Mirror *mirror = mirror_new ();
  g_autoptr(GDateTime) old = g_date_time_new_local (2020, 3, 1, 9, 30, 0);
  g_autofree char *old_heading = g_date_time_format (old, "%-d %B %Y");
  CompanionCallsView *view;
  GtkWindow *window;
  GtkListBox *list;
  guint loaded = 0;

  add_call (mirror->store, "call-missed", local_noon_ms (0) + 60000,
            "\"kind\":\"voice\",\"direction\":\"incoming\",\"missed\":true,\"duration_s\":0,"
            "\"participants\":[\"c-ana\"]");
  add_call (mirror->store, "call-out", local_noon_ms (0),
            "\"kind\":\"video\",\"direction\":\"outgoing\",\"missed\":false,\"duration_s\":340,"
            "\"participants\":[\"c-ana\",\"c-bob\"]");
  add_call (mirror->store, "call-yesterday", local_noon_ms (1),
            "\"kind\":\"voice\",\"direction\":\"incoming\",\"missed\":false,\"duration_s\":45,"
            "\"participants\":[\"c-bob\"]");
  add_call (mirror->store, "call-old", g_date_time_to_unix (old) * 1000,
            "\"kind\":\"video\",\"direction\":\"incoming\",\"missed\":false,\"duration_s\":3720,"
            "\"participants\":[\"c-ana\"]");
  window = show_calls (mirror, &view, &loaded);
  list = find_widget (GTK_WIDGET (view), GTK_TYPE_LIST_BOX);

  g_assert_null (gtk_list_box_get_row_at_index (list, 4));
  g_assert_cmpstr (row_header (list, 0), ==, "Today");
  g_assert_null (row_header (list, 1));
  g_assert_cmpstr (row_header (list, 2), ==, "Yesterday");
  g_assert_cmpstr (row_header (list, 3), ==, old_heading);

  /* Newest first; names are the contacts', shown as text, not markup. */
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row_at (list, 0))), ==, "Ana Núñez");
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_at (list, 0))), ==, "Missed voice call");
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row_at (list, 0)), "missed-call"));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row_at (list, 1))), ==,
                   "Ana Núñez, Bob <b>&amp;</b>");
  g_assert_false (adw_preferences_row_get_use_markup (ADW_PREFERENCES_ROW (row_at (list, 1))));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_at (list, 1))), ==,
                   "Outgoing video call · 5 min 40 s");
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (row_at (list, 1)), "missed-call"));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_at (list, 2))), ==,
                   "Incoming voice call · 45 seconds");
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row_at (list, 3))), ==,
                   "Incoming video call · 1 h 2 min");
  assert_controls_named (GTK_WIDGET (window));

  gtk_window_destroy (window);
  mirror_free (mirror);
}

static guint
count_rows (GtkListBox *list)
{
  guint n = 0;

  while (gtk_list_box_get_row_at_index (list, n) != NULL)
    n++;
  return n;
}

static void
test_calls_pages (void)
{
  Mirror *mirror = mirror_new ();
  CompanionCallsView *view;
  GtkScrolledWindow *scroller;
  GtkAdjustment *adjustment;
  GtkWindow *window;
  GtkListBox *list;
  guint loaded = 0;
  double previous_upper = 0;

  for (int i = 0; i < 130; i++)
    {
      g_autofree char *id = g_strdup_printf ("call-%03d", i);

      add_call (mirror->store, id, local_noon_ms (i % 20) - i * 1000,
                "\"kind\":\"voice\",\"direction\":\"outgoing\",\"missed\":false,\"duration_s\":5,"
                "\"participants\":[\"c-ana\"]");
    }
  window = show_calls (mirror, &view, &loaded);
  list = find_widget (GTK_WIDGET (view), GTK_TYPE_LIST_BOX);
  scroller = find_widget (GTK_WIDGET (view), GTK_TYPE_SCROLLED_WINDOW);
  adjustment = gtk_scrolled_window_get_vadjustment (scroller);
  /* One page only until the list is scrolled to its end. */
  test_loop_spin (100);
  g_assert_cmpuint (count_rows (list), ==, 60);

  /* Scrolled to the end: the next page, then the 10 left. */
  for (guint page = 2; page <= 3; page++)
    {
      guint before = loaded;

      /* The rows just added are laid out first. */
      WAIT_FOR (gtk_adjustment_get_upper (adjustment) > previous_upper + 100);
      previous_upper = gtk_adjustment_get_upper (adjustment);
      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) -
                                            gtk_adjustment_get_page_size (adjustment));
      WAIT_FOR (loaded > before);
      g_assert_cmpuint (count_rows (list), ==, MIN (page * 60, 130));
    }
  /* Newest first across pages, and none twice. */
  for (guint i = 1; i < 130; i++)
    g_assert_cmpstr (g_object_get_data (G_OBJECT (row_at (list, i)), "companion-call-id"), !=,
                     g_object_get_data (G_OBJECT (row_at (list, i - 1)), "companion-call-id"));

  gtk_window_destroy (window);
  mirror_free (mirror);
}

/* ---- search view --------------------------------------------------------------- */

static void
add_message (CompanionMirrorStore *store,
             const char           *id,
             const char           *chat,
             gint64                time,
             const char           *text)
{
  g_autoptr(JsonObject) message = json_object_new ();
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (message, "id", id);
  json_object_set_string_member (message, "chat", chat);
  json_object_set_string_member (message, "from", "c-ana");
  json_object_set_int_member (message, "time", time);
  json_object_set_string_member (message, "text", text);
  json_object_set_boolean_member (message, "deleted", FALSE);
  g_ptr_array_add (records, json_object_ref (message));
  g_assert_true (companion_mirror_store_apply_snapshot (store, COMPANION_ENTITY_MESSAGE, records, &error));
  g_assert_no_error (error);
}

typedef struct
{
  GPtrArray *queries;  /* "query=N" */
  char      *chat_id;
  char      *message_id;
} SearchSeen;

static void
on_searched (CompanionSearchView *view,
             const char          *query,
             guint                n,
             SearchSeen          *seen)
{
  g_ptr_array_add (seen->queries, g_strdup_printf ("%s=%u", query, n));
}

static void
on_open_message (CompanionSearchView *view,
                 const char          *chat_id,
                 const char          *message_id,
                 SearchSeen          *seen)
{
  g_free (seen->chat_id);
  g_free (seen->message_id);
  seen->chat_id = g_strdup (chat_id);
  seen->message_id = g_strdup (message_id);
}

static Mirror *
search_mirror (void)
{
  Mirror *mirror = mirror_new ();

  apply (mirror->store, COMPANION_ENTITY_CHAT,
         "{\"id\":\"ch-ana\",\"kind\":\"direct\",\"title\":\"\",\"participants\":[\"c-ana\"],"
         "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}");
  apply (mirror->store, COMPANION_ENTITY_CHAT,
         "{\"id\":\"ch-trip\",\"kind\":\"group\",\"title\":\"Trip <i>2024</i>\",\"participants\":[\"c-ana\",\"c-bob\"],"
         "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}");
  add_message (mirror->store, "m-1", "ch-ana", local_noon_ms (3), "Lunch tomorrow?");
  add_message (mirror->store, "m-2", "ch-trip", local_noon_ms (2),
               "<span foreground='red'>Meet</span> & \"greet\" at the station <b>now</b>");
  add_message (mirror->store, "m-3", "ch-ana", local_noon_ms (1), "We should meet again");
  mirror_ready (mirror);
  return mirror;
}

static void
type_query (CompanionSearchView *view,
            const char          *text)
{
  GtkSearchEntry *entry = find_widget (GTK_WIDGET (view), GTK_TYPE_SEARCH_ENTRY);

  gtk_editable_set_text (GTK_EDITABLE (entry), text);
}

static void
test_search_highlight_and_escape (void)
{
  Mirror *mirror = search_mirror ();
  SearchSeen seen = { g_ptr_array_new_with_free_func (g_free), NULL, NULL };
  CompanionSearchView *view = companion_search_view_new (mirror->reader);
  GtkWindow *window = show_in_window (GTK_WIDGET (view));
  GtkListBox *list = find_widget (GTK_WIDGET (view), GTK_TYPE_LIST_BOX);
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();
  const char *markup, *text;

  g_signal_connect (view, "searched", G_CALLBACK (on_searched), &seen);
  g_signal_connect (view, "open-message", G_CALLBACK (on_open_message), &seen);
  assert_controls_named (GTK_WIDGET (window));

  type_query (view, "nothing-like-this");
  WAIT_FOR (seen.queries->len == 1);
  g_assert_cmpstr (g_ptr_array_index (seen.queries, 0), ==, "nothing-like-this=0");

  type_query (view, "MEET");
  WAIT_FOR (seen.queries->len == 2);
  g_assert_cmpstr (g_ptr_array_index (seen.queries, 1), ==, "MEET=2");

  /* Newest first: m-3 in Ana's chat (named after its contact), then m-2. */
  collect_widgets (GTK_WIDGET (row_at (list, 0)), GTK_TYPE_LABEL, labels);
  g_assert_cmpuint (labels->len, ==, 3);
  g_assert_cmpstr (gtk_label_get_text (g_ptr_array_index (labels, 0)), ==, "Ana Núñez");
  markup = gtk_label_get_label (g_ptr_array_index (labels, 2));
  g_assert_nonnull (strstr (markup, "<b>meet</b>"));

  g_ptr_array_set_size (labels, 0);
  collect_widgets (GTK_WIDGET (row_at (list, 1)), GTK_TYPE_LABEL, labels);
  /* The chat title is shown as it is, and the hostile text stays text:
   * only the match is bold, everything else escaped. */
  g_assert_cmpstr (gtk_label_get_text (g_ptr_array_index (labels, 0)), ==, "Trip <i>2024</i>");
  markup = gtk_label_get_label (g_ptr_array_index (labels, 2));
  text = gtk_label_get_text (g_ptr_array_index (labels, 2));
  g_test_message ("markup: %s", markup);
  g_assert_nonnull (strstr (markup, "&lt;span foreground=&apos;red&apos;&gt;<b>Meet</b>&lt;/span&gt; &amp; "));
  g_assert_nonnull (strstr (markup, "&lt;b&gt;now&lt;/b&gt;"));
  g_assert_nonnull (strstr (text, "<span foreground='red'>Meet</span> & \"greet\""));
  g_assert_true (gtk_label_get_use_markup (g_ptr_array_index (labels, 2)));

  /* Activating a result asks for its message in its chat. */
  gtk_widget_activate (GTK_WIDGET (row_at (list, 1)));
  g_assert_cmpstr (seen.chat_id, ==, "ch-trip");
  g_assert_cmpstr (seen.message_id, ==, "m-2");
  assert_controls_named (GTK_WIDGET (window));

  gtk_window_destroy (window);
  g_ptr_array_unref (seen.queries);
  g_free (seen.chat_id);
  g_free (seen.message_id);
  mirror_free (mirror);
}

static void
test_search_stale_query (void)
{
  Mirror *mirror = search_mirror ();
  SearchSeen seen = { g_ptr_array_new_with_free_func (g_free), NULL, NULL };
  CompanionSearchView *view = companion_search_view_new (mirror->reader);
  GtkWindow *window = show_in_window (GTK_WIDGET (view));
  GtkSearchEntry *entry = find_widget (GTK_WIDGET (view), GTK_TYPE_SEARCH_ENTRY);

  g_signal_connect (view, "searched", G_CALLBACK (on_searched), &seen);

  /* Two queries started back to back: only the second is answered. */
  gtk_editable_set_text (GTK_EDITABLE (entry), "meet");
  g_signal_emit_by_name (entry, "search-changed");
  gtk_editable_set_text (GTK_EDITABLE (entry), "lunch");
  g_signal_emit_by_name (entry, "search-changed");
  WAIT_FOR (seen.queries->len >= 1);
  /* The debounced emission of the same text may follow: it is "lunch" too. */
  test_loop_spin (400);
  for (guint i = 0; i < seen.queries->len; i++)
    g_assert_cmpstr (g_ptr_array_index (seen.queries, i), ==, "lunch=1");

  gtk_window_destroy (window);
  g_ptr_array_unref (seen.queries);
  mirror_free (mirror);
}

/* ---- a desktop with a paired phone ----------------------------------------------- */

typedef struct
{
  char                   *dir;
  CompanionKeyStore      *keys;
  CompanionDesktopServer *server;
  TestProcess            *phone;
} Linked;

/* A desktop engine in this process, paired with a real companion-phone that
 * scanned its code from a PNG, as a camera would. FIXTURE may be NULL. */
static Linked *
linked_new (const char *fixture)
{
  Linked *linked = g_new0 (Linked, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, test_util_free_port ());
  g_autoptr(CompanionQrCode) code = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *desk = NULL;
  g_autofree char *phone = NULL;
  g_autofree char *png = NULL;
  g_autofree char *text = NULL;
  g_autofree char *fixture_path = NULL;

  linked->dir = g_dir_make_tmp ("app-linked-XXXXXX", &error);
  g_assert_no_error (error);
  desk = g_build_filename (linked->dir, "desktop", NULL);
  phone = g_build_filename (linked->dir, "phone", NULL);
  png = g_build_filename (linked->dir, "code.png", NULL);
  g_assert_cmpint (g_mkdir (desk, 0700), ==, 0);
  test_process_isolated_env (g_get_user_data_dir (), system_data_dirs);

  linked->keys = COMPANION_KEY_STORE (companion_file_key_store_new (desk));
  linked->server = companion_desktop_server_new (desk, linked->keys, &error);
  g_assert_no_error (error);
  g_assert_true (companion_desktop_server_listen (linked->server, G_INET_SOCKET_ADDRESS (address), &error));
  g_assert_no_error (error);

  text = companion_pairing_payload_to_string (
    companion_pairing_offer_get_payload (companion_desktop_server_get_offer (linked->server)));
  code = companion_qr_code_new (text, &error);
  g_assert_no_error (error);
  g_assert_true (companion_qr_code_write_png (code, png, 4, &error));
  g_assert_no_error (error);

  if (fixture != NULL)
    {
      fixture_path = g_test_build_filename (G_TEST_DIST, "data", fixture, "fixture.json", NULL);
      linked->phone = test_process_start (g_getenv ("COMPANION_PHONE"), "scan", png, "--json",
                                          "--state-dir", phone, "--name", "Test Phone",
                                          "--fixture", fixture_path, NULL);
    }
  else
    linked->phone = test_process_start (g_getenv ("COMPANION_PHONE"), "scan", png, "--json",
                                        "--state-dir", phone, "--name", "Test Phone", NULL);
  json_object_unref (test_process_wait_event (linked->phone, "paired"));
  WAIT_FOR (companion_desktop_server_is_paired (linked->server));
  return linked;
}

static const char *
linked_state_dir (Linked *linked)
{
  static char path[4096];

  g_snprintf (path, sizeof path, "%s/desktop", linked->dir);
  return path;
}

static void
linked_free (Linked *linked)
{
  if (linked->phone != NULL)
    {
      test_process_send (linked->phone, "{\"type\": \"quit\"}");
      test_process_drain (linked->phone);
      g_assert_cmpint (test_process_finish (linked->phone), ==, 0);
    }
  g_clear_object (&linked->server);
  test_loop_drain ();
  g_clear_object (&linked->keys);
  test_util_remove_tree (linked->dir);
  g_free (linked->dir);
  g_free (linked);
}

/* Has the phone apply EVENT and waits until the mirror holds its change. */
static void
phone_event (Linked               *linked,
             CompanionMirrorStore *store,
             const char           *event)
{
  g_autoptr(JsonObject) applied = NULL;
  guint64 seq;

  test_process_send (linked->phone, event);
  applied = test_process_wait_event (linked->phone, "event");
  seq = (guint64) json_object_get_int_member (applied, "seq");
  WAIT_FOR (companion_mirror_store_get_cursor (store) >= seq);
}

/* ---- preferences ------------------------------------------------------------------ */

static GtkWidget *
labelled_control (GtkWidget *root,
                  GType      type,
                  const char *row_title)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  collect_widgets (root, ADW_TYPE_ACTION_ROW, rows);
  for (guint i = 0; i < rows->len; i++)
    if (g_strcmp0 (adw_preferences_row_get_title (g_ptr_array_index (rows, i)), row_title) == 0)
      return find_widget (g_ptr_array_index (rows, i), type);
  g_error ("No row “%s”", row_title);
}

static void
test_preferences_settings (void)
{
  Linked *linked = linked_new (NULL);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.companiondesk.Companion");
  CompanionPreferencesWindow *preferences;
  GtkSpinButton *download, *port;
  GtkSwitch *notifications;
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  gboolean saw_code = FALSE;

  preferences = companion_preferences_window_new (NULL, settings, linked->server, linked_state_dir (linked));
  gtk_window_present (GTK_WINDOW (preferences));
  WAIT_FOR (gtk_widget_get_mapped (GTK_WIDGET (preferences)));
  assert_controls_named (GTK_WIDGET (preferences));

  notifications = GTK_SWITCH (labelled_control (GTK_WIDGET (preferences), GTK_TYPE_SWITCH, "Show Notifications"));
  download = GTK_SPIN_BUTTON (labelled_control (GTK_WIDGET (preferences), GTK_TYPE_SPIN_BUTTON,
                                                "Download Automatically Up To"));
  port = GTK_SPIN_BUTTON (labelled_control (GTK_WIDGET (preferences), GTK_TYPE_SPIN_BUTTON, "Listening Port"));

  /* The keys' values are shown... */
  g_assert_true (gtk_switch_get_active (notifications));
  g_assert_cmpfloat (gtk_spin_button_get_value (download), ==, 16);
  g_assert_cmpfloat (gtk_spin_button_get_value (port), ==, 47390);

  /* ...and what is changed is stored. */
  gtk_switch_set_active (notifications, FALSE);
  g_assert_false (g_settings_get_boolean (settings, "notifications-enabled"));
  gtk_spin_button_set_value (download, 100);
  g_assert_cmpint (g_settings_get_int64 (settings, "auto-download-limit"), ==, 100 * 1024 * 1024);
  gtk_spin_button_set_value (download, 0);
  g_assert_cmpint (g_settings_get_int64 (settings, "auto-download-limit"), ==, 0);
  gtk_spin_button_set_value (port, 50123);
  {
    g_autoptr(GVariant) value = g_settings_get_value (settings, "listen-port");

    g_assert_cmpuint (g_variant_get_uint16 (value), ==, 50123);
  }

  /* A change made elsewhere shows at once. */
  g_settings_set_boolean (settings, "notifications-enabled", TRUE);
  g_assert_true (gtk_switch_get_active (notifications));

  /* The linked phone, with the safety code the pairing produced. */
  collect_widgets (GTK_WIDGET (preferences), ADW_TYPE_ACTION_ROW, rows);
  for (guint i = 0; i < rows->len; i++)
    {
      const char *title = adw_preferences_row_get_title (g_ptr_array_index (rows, i));
      const char *subtitle = adw_action_row_get_subtitle (g_ptr_array_index (rows, i));

      if (g_str_equal (title, "Phone"))
        g_assert_cmpstr (subtitle, ==, "Test Phone");
      if (g_str_equal (title, "Safety Code"))
        {
          const char *code = companion_desktop_server_get_safety_code (linked->server);
          g_autofree char *spaced = g_strdup_printf ("%.3s %s", code, code + 3);

          g_assert_cmpstr (subtitle, ==, spaced);
          saw_code = TRUE;
        }
      if (g_str_equal (title, "Linked Since"))
        g_assert_cmpstr (subtitle, !=, "Unknown");
    }
  g_assert_true (saw_code);

  gtk_window_destroy (GTK_WINDOW (preferences));
  g_settings_reset (settings, "notifications-enabled");
  g_settings_reset (settings, "auto-download-limit");
  g_settings_reset (settings, "listen-port");
  linked_free (linked);
}

static GtkStack *
find_stack_with_page (GtkWidget  *root,
                      const char *page)
{
  g_autoptr(GPtrArray) stacks = g_ptr_array_new ();

  collect_widgets (root, GTK_TYPE_STACK, stacks);
  for (guint i = 0; i < stacks->len; i++)
    if (gtk_stack_get_child_by_name (g_ptr_array_index (stacks, i), page) != NULL)
      return g_ptr_array_index (stacks, i);
  g_error ("No stack with a page “%s”", page);
}

static CompanionUnlinkDialog *
find_unlink_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (COMPANION_IS_UNLINK_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return COMPANION_UNLINK_DIALOG (window);
    }
  return NULL;
}

/* Presses the dialog's button LABEL, as a person would. */
static void
press_dialog_button (CompanionUnlinkDialog *dialog,
                     const char            *label)
{
  g_autoptr(GPtrArray) buttons = g_ptr_array_new ();

  collect_widgets (GTK_WIDGET (dialog), GTK_TYPE_BUTTON, buttons);
  for (guint i = 0; i < buttons->len; i++)
    if (g_strcmp0 (gtk_button_get_label (g_ptr_array_index (buttons, i)), label) == 0)
      {
        g_signal_emit_by_name (g_ptr_array_index (buttons, i), "clicked");
        return;
      }
  g_error ("No button “%s”", label);
}

static void
test_preferences_unlink (void)
{
  Linked *linked = linked_new (NULL);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.companiondesk.Companion");
  g_autoptr(CompanionEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  CompanionWindow *window;
  CompanionPreferencesWindow *preferences;
  GtkWidget *unlink;
  GtkStack *stack;
  gboolean closed = FALSE;

  engine = companion_engine_new (linked->server, linked_state_dir (linked), &error);
  g_assert_no_error (error);
  window = companion_window_new (NULL, engine, NULL);
  gtk_window_present (GTK_WINDOW (window));
  stack = find_stack_with_page (GTK_WIDGET (window), "pairing");
  WAIT_FOR (g_strcmp0 (gtk_stack_get_visible_child_name (stack), "pairing") != 0);

  preferences = companion_preferences_window_new (GTK_WINDOW (window), settings, linked->server,
                                                  linked_state_dir (linked));
  g_signal_connect_swapped (preferences, "destroy", G_CALLBACK (on_signal_count), &closed);
  gtk_window_present (GTK_WINDOW (preferences));
  WAIT_FOR (gtk_widget_get_mapped (GTK_WIDGET (preferences)));
  unlink = labelled_control (GTK_WIDGET (preferences), GTK_TYPE_BUTTON, "Unlink This Phone");

  /* Cancelling keeps the phone. */
  gtk_widget_activate (unlink);
  WAIT_FOR (find_unlink_dialog () != NULL);
  press_dialog_button (find_unlink_dialog (), "_Cancel");
  WAIT_FOR (find_unlink_dialog () == NULL);
  g_assert_true (companion_desktop_server_is_paired (linked->server));

  /* Confirming unlinks it: the phone hears of it, the preferences close
   * and the window offers a new code. */
  gtk_widget_activate (unlink);
  WAIT_FOR (find_unlink_dialog () != NULL);
  press_dialog_button (find_unlink_dialog (), "_Unlink");
  WAIT_FOR (!companion_desktop_server_is_paired (linked->server));
  json_object_unref (test_process_wait_event (linked->phone, "unlinked"));
  /* An unlinked phone has nothing left to do. */
  test_process_drain (linked->phone);
  g_assert_cmpint (test_process_finish (g_steal_pointer (&linked->phone)), ==, 0);
  WAIT_FOR (closed);
  WAIT_FOR (g_strcmp0 (gtk_stack_get_visible_child_name (stack), "pairing") == 0);

  gtk_window_destroy (GTK_WINDOW (window));
  g_clear_object (&engine);
  linked_free (linked);
}

static void
test_window_search_opens_chat (void)
{
  Linked *linked = linked_new ("fixture-small");
  g_autoptr(CompanionEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  SearchSeen seen = { g_ptr_array_new_with_free_func (g_free), NULL, NULL };
  CompanionConversationView *conversation;
  CompanionSearchView *search;
  CompanionCallsView *calls;
  CompanionWindow *window;
  GtkListBox *results;
  guint calls_loaded = 0;

  engine = companion_engine_new (linked->server, linked_state_dir (linked), &error);
  g_assert_no_error (error);
  window = companion_window_new (NULL, engine, NULL);
  gtk_window_present (GTK_WINDOW (window));
  json_object_unref (test_process_wait_event (linked->phone, "connected"));
  WAIT_FOR (companion_desktop_sync_is_up_to_date (companion_engine_get_sync (engine)));
  assert_controls_named (GTK_WIDGET (window));

  /* The call log beside the chats follows live calls. */
  calls = find_widget (GTK_WIDGET (window), COMPANION_TYPE_CALLS_VIEW);
  g_signal_connect_swapped (calls, "loaded", G_CALLBACK (on_signal_count), &calls_loaded);
  companion_window_show_sidebar_view (window, "calls");
  phone_event (linked, companion_engine_get_mirror (engine),
               "{\"type\":\"call\",\"from\":\"c-olga\",\"missed\":true}");
  WAIT_FOR (calls_loaded > 0 &&
            gtk_list_box_get_row_at_index (find_widget (GTK_WIDGET (calls), GTK_TYPE_LIST_BOX), 3) != NULL);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (gtk_list_box_get_row_at_index (
                     find_widget (GTK_WIDGET (calls), GTK_TYPE_LIST_BOX), 0))), ==, "Ольга Смирнова");

  /* Ctrl+F's action shows the search; a result opens its chat. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.search", NULL));
  search = find_widget (GTK_WIDGET (window), COMPANION_TYPE_SEARCH_VIEW);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (search)));
  {
    g_autoptr(GPtrArray) titles = g_ptr_array_new ();
    gboolean named = FALSE;

    collect_widgets (GTK_WIDGET (window), ADW_TYPE_WINDOW_TITLE, titles);
    for (guint i = 0; i < titles->len; i++)
      named |= g_strcmp0 (adw_window_title_get_title (g_ptr_array_index (titles, i)), "Search") == 0;
    g_assert_true (named);
  }
  g_signal_connect (search, "searched", G_CALLBACK (on_searched), &seen);
  type_query (search, "puesta");
  WAIT_FOR (seen.queries->len == 1);
  g_assert_cmpstr (g_ptr_array_index (seen.queries, 0), ==, "puesta=1");
  results = find_widget (GTK_WIDGET (search), GTK_TYPE_LIST_BOX);
  gtk_widget_activate (GTK_WIDGET (row_at (results, 0)));
  conversation = companion_window_get_conversation (window);
  /* The chat opens at once, or as soon as the chat list has read it. */
  WAIT_FOR (companion_conversation_view_get_chat (conversation) != NULL);
  g_assert_cmpstr (companion_chat_item_get_id (companion_conversation_view_get_chat (conversation)), ==, "ch-ana");

  gtk_window_destroy (GTK_WINDOW (window));
  g_clear_object (&engine);
  g_ptr_array_unref (seen.queries);
  linked_free (linked);
}

/* ---- notifications ------------------------------------------------------------------ */

/* The receiving end of org.freedesktop.Notifications on the session bus:
 * what GLib's freedesktop backend actually sends. */
static const char notifications_xml[] =
  "<node><interface name='org.freedesktop.Notifications'>"
  "<method name='Notify'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "<arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "<arg type='as' direction='in'/><arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "<arg type='u' direction='out'/></method>"
  "<method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "<method name='GetCapabilities'><arg type='as' direction='out'/></method>"
  "<method name='GetServerInformation'><arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "<arg type='s' direction='out'/><arg type='s' direction='out'/></method>"
  "<signal name='ActionInvoked'><arg type='u'/><arg type='s'/></signal>"
  "<signal name='NotificationClosed'><arg type='u'/><arg type='u'/></signal>"
  "</interface></node>";

typedef struct
{
  GPtrArray *received;  /* "summary|body|actions" */
  gboolean   owned;
} Notifications;

static void
on_notifications_call (GDBusConnection       *connection,
                       const char            *sender,
                       const char            *path,
                       const char            *interface,
                       const char            *method,
                       GVariant              *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer               user_data)
{
  Notifications *notifications = user_data;

  if (g_str_equal (method, "Notify"))
    {
      const char *summary, *body;
      g_autofree const char **actions = NULL;
      g_autofree char *joined = NULL;

      g_variant_get (parameters, "(&su&s&s&s^a&s@a{sv}i)", NULL, NULL, NULL, &summary, &body, &actions, NULL,
                     NULL);
      joined = g_strjoinv (",", (char **) actions);
      g_ptr_array_add (notifications->received, g_strdup_printf ("%s|%s|%s", summary, body, joined));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notifications->received->len));
    }
  else if (g_str_equal (method, "GetCapabilities"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new_parsed ("(['body', 'actions'],)"));
  else if (g_str_equal (method, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "test", "test", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  ((Notifications *) user_data)->owned = TRUE;
}

static void
test_notifier_incoming (void)
{
  static const GDBusInterfaceVTable vtable = { on_notifications_call, NULL, NULL, { 0 } };
  Notifications notifications = { g_ptr_array_new_with_free_func (g_free), FALSE };
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GDBusNodeInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GtkApplication) application = NULL;
  g_autoptr(GSettings) settings = g_settings_new ("io.github.companiondesk.Companion");
  g_autoptr(CompanionMirrorStore) store = NULL;
  g_autoptr(CompanionDesktopSync) sync = NULL;
  g_autoptr(CompanionMirrorReader) reader = NULL;
  g_autoptr(CompanionNotifier) notifier = NULL;
  Linked *linked;
  guint registration, owner;

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    {
      g_test_skip_printf ("No session bus: %s", error->message);
      return;
    }
  info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
  g_assert_no_error (error);
  registration = g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications", info->interfaces[0],
                                                    &vtable, &notifications, NULL, &error);
  g_assert_no_error (error);
  owner = g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                        on_name_acquired, NULL, &notifications, NULL);
  WAIT_FOR (notifications.owned);

  application = gtk_application_new ("io.github.companiondesk.Companion.Test", G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (application), NULL, &error));
  g_assert_no_error (error);

  linked = linked_new ("fixture-small");
  store = companion_mirror_store_open (linked_state_dir (linked), &error);
  g_assert_no_error (error);
  sync = companion_desktop_sync_new (linked->server, store);
  reader = companion_mirror_reader_new (linked_state_dir (linked));
  notifier = companion_notifier_new (G_APPLICATION (application), sync, reader, settings);

  /* The first sync brings nine messages and a missed call: no news. */
  json_object_unref (test_process_wait_event (linked->phone, "connected"));
  WAIT_FOR (companion_desktop_sync_is_up_to_date (sync));

  /* A muted chat stays quiet; the setting off silences everything. */
  phone_event (linked, store, "{\"type\":\"message-in\",\"chat\":\"ch-omar\",\"text\":\"muted\"}");
  test_loop_spin (200);
  g_settings_set_boolean (settings, "notifications-enabled", FALSE);
  phone_event (linked, store, "{\"type\":\"message-in\",\"chat\":\"ch-ana\",\"text\":\"while off\"}");
  test_loop_spin (200);
  g_assert_cmpuint (notifications.received->len, ==, 0);

  /* An incoming message while no window has the focus. */
  g_settings_set_boolean (settings, "notifications-enabled", TRUE);
  phone_event (linked, store, "{\"type\":\"message-in\",\"chat\":\"ch-trip\",\"from\":\"c-mei\","
                              "\"id\":\"m-news\",\"text\":\"See you <b>there</b>\"}");
  WAIT_FOR (notifications.received->len == 1);
  g_assert_cmpstr (g_ptr_array_index (notifications.received, 0), ==,
                   "王美 in Weekend trip 🏔️|See you <b>there</b>|default,");

  /* A missed call. */
  phone_event (linked, store, "{\"type\":\"call\",\"from\":\"c-olga\",\"kind\":\"video\",\"missed\":true}");
  WAIT_FOR (notifications.received->len == 2);
  g_assert_cmpstr (g_ptr_array_index (notifications.received, 1), ==,
                   "Missed Video Call|Ольга Смирнова|default,");

  /* Reactions and edits, of a message already announced or of an old
   * one, and outgoing messages are no news. */
  phone_event (linked, store, "{\"type\":\"react\",\"message\":\"m-news\",\"from\":\"c-ana\",\"emoji\":\"👍\"}");
  phone_event (linked, store, "{\"type\":\"react\",\"message\":\"m-07\",\"emoji\":\"👍\"}");
  phone_event (linked, store, "{\"type\":\"edit\",\"message\":\"m-news\",\"text\":\"See you soon\"}");
  phone_event (linked, store, "{\"type\":\"message-out\",\"chat\":\"ch-ana\",\"text\":\"mine\"}");
  test_loop_spin (200);
  g_assert_cmpuint (notifications.received->len, ==, 2);

  g_clear_object (&notifier);
  g_clear_object (&reader);
  g_clear_object (&sync);
  g_clear_object (&store);
  linked_free (linked);
  g_settings_reset (settings, "notifications-enabled");
  g_bus_unown_name (owner);
  g_dbus_connection_unregister_object (bus, registration);
  g_ptr_array_unref (notifications.received);
}

/* ---- application ------------------------------------------------------------------ */

static void
test_application_actions (void)
{
  g_autoptr(CompanionApplication) application = companion_application_new ();
  g_autoptr(GtkBuilder) builder = NULL;
  g_autoptr(GError) error = NULL;
  const struct { const char *action; const char *accel; } accels[] = {
    { "app.quit", "<Control>q" },
    { "app.preferences", "<Control>comma" },
    { "window.close", "<Control>w" },
    { "win.search", "<Control>f" },
  };
  GtkWindow *about;
  char *version = NULL;
  char *notes = NULL;

  /* Registering runs startup: the actions and their accelerators. */
  g_application_set_flags (G_APPLICATION (application), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (application), NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    {
      g_auto(GStrv) set = gtk_application_get_accels_for_action (GTK_APPLICATION (application), accels[i].action);

      g_assert_cmpstr (set[0], ==, accels[i].accel);
    }
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (application), "open-chat"));
  g_assert_true (g_variant_type_equal (g_action_group_get_action_parameter_type (G_ACTION_GROUP (application), "open-chat"),
                                       G_VARIANT_TYPE_STRING));
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (application), "show-calls"));
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (application), "search"));
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (application), "about"));

  /* The shortcuts window lists what the accelerators do. */
  builder = gtk_builder_new_from_resource (APP_RESOURCE_PATH "/gtk/help-overlay.ui");
  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "help_overlay")));

  /* The About window is filled from the bundled metainfo. */
  about = companion_about_window_new (NULL);
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (about)), ==, "Companion");
  g_assert_cmpstr (adw_about_window_get_comments (ADW_ABOUT_WINDOW (about)), ==, "Your phone’s chats on your desktop");
  g_assert_cmpstr (adw_about_window_get_issue_url (ADW_ABOUT_WINDOW (about)), ==,
                   "https://github.com/companiondesk/companion/issues");
  g_object_get (about, "release-notes-version", &version, "release-notes", &notes, NULL);
  /* The newest release's notes, as AppStream markup. */
  g_assert_true (version != NULL && g_ascii_isdigit (version[0]));
  g_assert_true (g_str_has_prefix (notes, "<p>") || g_str_has_prefix (notes, "<ul>"));
  g_assert_nonnull (strstr (notes, "</li>"));
  g_free (version);
  g_free (notes);
  gtk_window_destroy (about);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *home = g_dir_make_tmp ("app-views-home-XXXXXX", NULL);
  const char *homes[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "HOME" };
  int status;

  /* The user's folders are private to the test, but not the system's:
   * GTK needs the MIME database and icon theme to draw its icons, which
   * G_TEST_OPTION_ISOLATE_DIRS would hide. */
  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") != NULL ? g_getenv ("XDG_DATA_DIRS")
                                                                   : "/usr/local/share:/usr/share");
  for (guint i = 0; i < G_N_ELEMENTS (homes); i++)
    {
      g_autofree char *path = g_build_filename (home, homes[i], NULL);

      g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
      g_setenv (homes[i], path, TRUE);
    }
  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      g_test_message ("No display: these tests run under xvfb-run");
      return 77;
    }
  g_assert_true (companion_core_init (NULL));
  adw_init ();

  g_test_add_func ("/calls-view/groups-and-rows", test_calls_groups_and_rows);
  g_test_add_func ("/calls-view/pages", test_calls_pages);
  g_test_add_func ("/search-view/highlight-and-escape", test_search_highlight_and_escape);
  g_test_add_func ("/search-view/stale-query", test_search_stale_query);
  g_test_add_func ("/preferences/settings", test_preferences_settings);
  g_test_add_func ("/preferences/unlink", test_preferences_unlink);
  g_test_add_func ("/window/search-opens-chat", test_window_search_opens_chat);
  g_test_add_func ("/notifier/incoming", test_notifier_incoming);
  g_test_add_func ("/application/actions", test_application_actions);

  status = g_test_run ();
  test_util_remove_tree (home);
  return status;
}
