/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-calls-view"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-calls-view.h"
#include "companion-name-cache.h"

/* Calls read at a time: a screenful and more. */
#define PAGE_SIZE 60

struct _CompanionCallsView
{
  AdwBin                 parent_instance;

  CompanionMirrorReader *reader;
  CompanionNameCache    *names;
  GCancellable          *cancellable;
  guint                  loaded;    /* calls shown */
  guint                  generation; /* bumped by each reload */
  gboolean               loading;
  gboolean               complete;  /* the last page was short */

  GtkStack              *stack;
  GtkScrolledWindow     *scroller;
  GtkListBox            *list;
};

G_DEFINE_FINAL_TYPE (CompanionCallsView, companion_calls_view, ADW_TYPE_BIN)

enum {
  SIGNAL_LOADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* The local day of a call, as days since year 1, for grouping. */
static gint64
local_day (GDateTime *when)
{
  int year, month, day;
  g_autoptr(GDate) date = NULL;

  g_date_time_get_ymd (when, &year, &month, &day);
  date = g_date_new_dmy (day, month, year);
  return g_date_get_julian (date);
}

static GDateTime *
row_time (GtkListBoxRow *row)
{
  return g_object_get_data (G_OBJECT (row), "companion-call-time");
}

static char *
describe_day (GDateTime *when)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  gint64 days_ago = local_day (now) - local_day (when);

  if (days_ago == 0)
    return g_strdup (_("Today"));
  if (days_ago == 1)
    return g_strdup (_("Yesterday"));
  if (g_date_time_get_year (when) == g_date_time_get_year (now))
    /* Translators: a day heading in the call log, see strftime(3); e.g. "Monday, 3 March" */
    return g_date_time_format (when, _("%A, %-d %B"));
  /* Translators: a day heading in the call log for another year; e.g. "3 March 2024" */
  return g_date_time_format (when, _("%-d %B %Y"));
}

static void
update_header (GtkListBoxRow *row,
               GtkListBoxRow *before,
               gpointer       user_data)
{
  GDateTime *when = row_time (row);
  g_autofree char *text = NULL;
  GtkWidget *label;

  if (before != NULL && local_day (row_time (before)) == local_day (when))
    {
      gtk_list_box_row_set_header (row, NULL);
      return;
    }
  text = describe_day (when);
  label = gtk_list_box_row_get_header (row);
  if (label == NULL)
    {
      label = gtk_label_new (NULL);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_widget_add_css_class (label, "heading");
      gtk_widget_set_margin_start (label, 12);
      gtk_widget_set_margin_end (label, 12);
      gtk_widget_set_margin_top (label, 18);
      gtk_widget_set_margin_bottom (label, 6);
      gtk_accessible_update_property (GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_LEVEL, 2, -1);
      gtk_list_box_row_set_header (row, label);
    }
  gtk_label_set_label (GTK_LABEL (label), text);
}

static char *
describe_duration (gint64 seconds)
{
  if (seconds < 60)
    /* Translators: a call's length */
    return g_strdup_printf (ngettext ("%d second", "%d seconds", (int) seconds), (int) seconds);
  if (seconds < 3600)
    /* Translators: a call's length, minutes and seconds */
    return g_strdup_printf (_("%d min %d s"), (int) (seconds / 60), (int) (seconds % 60));
  /* Translators: a call's length, hours and minutes */
  return g_strdup_printf (_("%d h %d min"), (int) (seconds / 3600), (int) (seconds / 60 % 60));
}

static char *
describe_call (JsonObject *call)
{
  gboolean video = g_str_equal (json_object_get_string_member (call, "kind"), "video");
  gboolean outgoing = g_str_equal (json_object_get_string_member (call, "direction"), "outgoing");
  g_autofree char *duration = NULL;
  const char *what;

  if (json_object_get_boolean_member_with_default (call, "missed", FALSE))
    return g_strdup (video ? _("Missed video call") : _("Missed voice call"));
  if (outgoing)
    what = video ? _("Outgoing video call") : _("Outgoing voice call");
  else
    what = video ? _("Incoming video call") : _("Incoming voice call");
  if (json_object_get_int_member (call, "duration_s") == 0)
    return g_strdup (what);
  duration = describe_duration (json_object_get_int_member (call, "duration_s"));
  /* Translators: a call's kind, then its length: "Incoming voice call · 3 min 5 s" */
  return g_strdup_printf (_("%s · %s"), what, duration);
}

static GtkWidget *
create_row (CompanionCallsView *self,
            JsonObject         *call)
{
  gboolean video = g_str_equal (json_object_get_string_member (call, "kind"), "video");
  gboolean missed = json_object_get_boolean_member_with_default (call, "missed", FALSE);
  gboolean outgoing = g_str_equal (json_object_get_string_member (call, "direction"), "outgoing");
  JsonArray *participants = json_object_get_array_member (call, "participants");
  g_autoptr(GString) names = g_string_new (NULL);
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *subtitle = describe_call (call);
  g_autofree char *time = NULL;
  GtkWidget *row, *icon, *direction, *label;

  for (guint i = 0; i < json_array_get_length (participants); i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            companion_name_cache_get_contact_name (self->names,
                                                                   json_array_get_string_element (participants, i)));

  row = adw_action_row_new ();
  /* Names come from the phone: shown as text, never as markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), names->str);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  if (missed)
    gtk_widget_add_css_class (row, "missed-call");

  icon = gtk_image_new_from_icon_name (video ? "camera-video-symbolic" : "call-start-symbolic");
  gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  video ? _("Video call") : _("Voice call"), -1);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);

  direction = gtk_image_new_from_icon_name (missed ? "call-missed-symbolic"
                                                   : outgoing ? "call-outgoing-symbolic"
                                                              : "call-incoming-symbolic");
  gtk_accessible_update_property (GTK_ACCESSIBLE (direction), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  missed ? _("Missed") : outgoing ? _("Outgoing") : _("Incoming"), -1);
  if (missed)
    gtk_widget_add_css_class (direction, "error");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), direction);

  when = g_date_time_new_from_unix_local (json_object_get_int_member (call, "time") / 1000);
  time = g_date_time_format (when, "%H:%M");
  label = gtk_label_new (time);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_widget_add_css_class (label, "numeric");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);

  g_object_set_data_full (G_OBJECT (row), "companion-call-time", g_steal_pointer (&when),
                          (GDestroyNotify) g_date_time_unref);
  g_object_set_data_full (G_OBJECT (row), "companion-call-id",
                          g_strdup (json_object_get_string_member (call, "id")), g_free);
  return row;
}

/* A page of the log on its way, for the log as it was at GENERATION. */
typedef struct
{
  CompanionCallsView *self;
  GPtrArray          *calls;
  guint               generation;
} Page;

static void
page_free (Page *page)
{
  g_object_unref (page->self);
  g_clear_pointer (&page->calls, g_ptr_array_unref);
  g_free (page);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Page, page_free)

static void
show_page (CompanionCallsView *self,
           GPtrArray          *calls)
{
  for (guint i = 0; i < calls->len; i++)
    gtk_list_box_append (self->list, create_row (self, g_ptr_array_index (calls, i)));
  self->loaded += calls->len;
  self->complete = calls->len < PAGE_SIZE;
  self->loading = FALSE;
  gtk_stack_set_visible_child_name (self->stack, self->loaded > 0 ? "list" : "empty");
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
}

static void
on_names_resolved (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(Page) page = user_data;
  g_autoptr(GError) error = NULL;

  if (!companion_name_cache_resolve_finish (COMPANION_NAME_CACHE (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
          page->generation != page->self->generation)
        return;
      /* Unknown names show as ids rather than hiding the calls. */
      g_debug ("Cannot read the names of callers: %s", error->message);
    }
  if (page->generation == page->self->generation)
    show_page (page->self, page->calls);
}

static void
on_calls_listed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Page) page = user_data;
  CompanionCallsView *self = page->self;
  g_autoptr(GPtrArray) calls = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) contacts = NULL;

  calls = companion_mirror_reader_list_calls_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (page->generation != self->generation)
    return;
  if (calls == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("Cannot read the call log: %s", error->message);
      self->loading = FALSE;
      self->complete = TRUE;
      if (self->loaded == 0)
        gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  for (guint i = 0; i < calls->len; i++)
    {
      JsonArray *participants = json_object_get_array_member (g_ptr_array_index (calls, i), "participants");

      for (guint p = 0; p < json_array_get_length (participants); p++)
        g_strv_builder_add (builder, json_array_get_string_element (participants, p));
    }
  contacts = g_strv_builder_end (builder);
  page->calls = g_steal_pointer (&calls);
  companion_name_cache_resolve_async (self->names, NULL, (const char * const *) contacts,
                                      self->cancellable, on_names_resolved, g_steal_pointer (&page));
}

static void
load_page (CompanionCallsView *self)
{
  Page *page;

  if (self->loading || self->complete)
    return;
  self->loading = TRUE;
  page = g_new0 (Page, 1);
  page->self = g_object_ref (self);
  page->generation = self->generation;
  companion_mirror_reader_list_calls_async (self->reader, PAGE_SIZE, self->loaded, self->cancellable,
                                            on_calls_listed, page);
}

/* The next page is read while a screenful is still left to scroll, and
 * when a page does not fill the view (it cannot be scrolled at all). */
static void
on_adjustment_changed (CompanionCallsView *self,
                       GtkAdjustment      *adjustment)
{
  double left = gtk_adjustment_get_upper (adjustment) -
                (gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment));

  if (self->loaded > 0 && left < gtk_adjustment_get_page_size (adjustment))
    load_page (self);
}

static void
companion_calls_view_dispose (GObject *object)
{
  CompanionCallsView *self = COMPANION_CALLS_VIEW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->names);
  g_clear_object (&self->reader);

  G_OBJECT_CLASS (companion_calls_view_parent_class)->dispose (object);
}

static void
companion_calls_view_class_init (CompanionCallsViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_calls_view_dispose;

  signals[SIGNAL_LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
companion_calls_view_init (CompanionCallsView *self)
{
  GtkWidget *empty;
  GtkWidget *clamp;

  self->cancellable = g_cancellable_new ();
  self->stack = GTK_STACK (gtk_stack_new ());

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_list_box_set_header_func (self->list, update_header, NULL, NULL);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "navigation-sidebar");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Call log"), -1);
  clamp = adw_clamp_new ();
  adw_clamp_set_child (ADW_CLAMP (clamp), GTK_WIDGET (self->list));
  gtk_widget_add_css_class (clamp, "calls-view");

  self->scroller = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
  gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (self->scroller, clamp);
  g_signal_connect_object (gtk_scrolled_window_get_vadjustment (self->scroller), "changed",
                           G_CALLBACK (on_adjustment_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (gtk_scrolled_window_get_vadjustment (self->scroller), "value-changed",
                           G_CALLBACK (on_adjustment_changed), self, G_CONNECT_SWAPPED);

  empty = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "call-start-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("No Calls"));
  adw_status_page_set_description (ADW_STATUS_PAGE (empty), _("Calls on your phone show up here."));

  gtk_stack_add_named (self->stack, gtk_spinner_new (), "loading");
  gtk_stack_add_named (self->stack, GTK_WIDGET (self->scroller), "list");
  gtk_stack_add_named (self->stack, empty, "empty");
  gtk_stack_set_visible_child_name (self->stack, "loading");
  adw_bin_set_child (ADW_BIN (self), GTK_WIDGET (self->stack));
}

CompanionCallsView *
companion_calls_view_new (CompanionMirrorReader *reader)
{
  CompanionCallsView *self;

  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (reader), NULL);

  self = g_object_new (COMPANION_TYPE_CALLS_VIEW, NULL);
  self->reader = g_object_ref (reader);
  self->names = companion_name_cache_new (reader);
  load_page (self);
  return self;
}

void
companion_calls_view_reload (CompanionCallsView *self)
{
  GtkListBoxRow *row;

  g_return_if_fail (COMPANION_IS_CALLS_VIEW (self));

  /* A page still on its way belongs to the old log. */
  self->generation++;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_clear_object (&self->names);
  self->names = companion_name_cache_new (self->reader);
  while ((row = gtk_list_box_get_row_at_index (self->list, 0)) != NULL)
    gtk_list_box_remove (self->list, GTK_WIDGET (row));
  self->loaded = 0;
  self->loading = FALSE;
  self->complete = FALSE;
  load_page (self);
}
