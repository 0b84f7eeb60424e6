/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-search-view"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "companion-name-cache.h"
#include "companion-record.h"
#include "companion-search-view.h"

/* Newest matches shown; refining the query finds older ones. */
#define RESULT_LIMIT 50
/* Typing pauses this long before a query runs. */
#define SEARCH_DELAY_MS 250
/* Control characters around each match in the store's snippet: they are
 * split out before the text is escaped, so message text, whatever it
 * holds, never becomes markup. */
#define MARK_START "\x02"
#define MARK_END   "\x03"

struct _CompanionSearchView
{
  AdwBin                 parent_instance;

  CompanionMirrorReader *reader;
  CompanionNameCache    *names;
  GCancellable          *cancellable;  /* of the query under way */

  GtkSearchEntry        *entry;
  GtkStack              *stack;
  GtkListBox            *list;
};

G_DEFINE_FINAL_TYPE (CompanionSearchView, companion_search_view, ADW_TYPE_BIN)

enum {
  SIGNAL_OPEN_MESSAGE,
  SIGNAL_SEARCHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* One query on its way: its hits, then each hit's message for its time. */
typedef struct
{
  CompanionSearchView *self;
  GCancellable        *cancellable;
  char                *query;
  GPtrArray           *hits;      /* CompanionMirrorSearchHit * */
  GPtrArray           *messages;  /* JsonObject *, NULL when gone since */
} Query;

static void
query_free (Query *query)
{
  g_object_unref (query->self);
  g_object_unref (query->cancellable);
  g_free (query->query);
  g_clear_pointer (&query->hits, g_ptr_array_unref);
  g_clear_pointer (&query->messages, g_ptr_array_unref);
  g_free (query);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Query, query_free)

static void
unref_record (gpointer record)
{
  if (record != NULL)
    json_object_unref (record);
}

/* SNIPPET with MARK_START…MARK_END around matches as Pango markup: every
 * piece escaped, matches in bold, tags always balanced. */
static char *
snippet_to_markup (const char *snippet)
{
  g_autoptr(GString) markup = g_string_new (NULL);
  gboolean inside = FALSE;
  const char *p = snippet;

  while (*p != '\0')
    {
      const char *mark = strpbrk (p, MARK_START MARK_END);
      const char *end = mark != NULL ? mark : p + strlen (p);
      g_autofree char *piece = g_markup_escape_text (p, end - p);

      g_string_append (markup, piece);
      if (mark == NULL)
        break;
      if (*mark == MARK_START[0] && !inside)
        g_string_append (markup, "<b>");
      else if (*mark == MARK_END[0] && inside)
        g_string_append (markup, "</b>");
      inside = *mark == MARK_START[0] ? TRUE : *mark == MARK_END[0] ? FALSE : inside;
      p = mark + 1;
    }
  if (inside)
    g_string_append (markup, "</b>");
  return g_string_free (g_steal_pointer (&markup), FALSE);
}

static char *
snippet_to_text (const char *snippet)
{
  g_autoptr(GString) text = g_string_new (snippet);

  g_string_replace (text, MARK_START, "", 0);
  g_string_replace (text, MARK_END, "", 0);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static char *
describe_time (gint64 ms)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (ms / 1000);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  if (when == NULL)
    return g_strdup ("");
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    return g_date_time_format (when, "%H:%M");
  return g_date_time_format (when, "%x");
}

static GtkWidget *
create_row (CompanionSearchView      *self,
            CompanionMirrorSearchHit *hit,
            JsonObject               *message)
{
  const char *chat = companion_name_cache_get_chat_title (self->names, hit->chat_id);
  g_autofree char *time = describe_time (json_object_get_int_member (message, "time"));
  /* A result shows the words around the match on one or two lines. */
  g_autofree char *flat = g_strdelimit (g_strdup (hit->snippet), "\n\r\t", ' ');
  g_autofree char *markup = snippet_to_markup (flat);
  g_autofree char *text = snippet_to_text (flat);
  g_autofree char *description = NULL;
  GtkWidget *row, *box, *top, *chat_label, *time_label, *snippet_label;

  chat_label = gtk_label_new (chat);
  gtk_label_set_xalign (GTK_LABEL (chat_label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (chat_label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (chat_label, TRUE);
  gtk_widget_add_css_class (chat_label, "heading");

  time_label = gtk_label_new (time);
  gtk_widget_add_css_class (time_label, "dim-label");
  gtk_widget_add_css_class (time_label, "numeric");

  snippet_label = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (snippet_label), markup);
  gtk_label_set_xalign (GTK_LABEL (snippet_label), 0);
  gtk_label_set_wrap (GTK_LABEL (snippet_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (snippet_label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_lines (GTK_LABEL (snippet_label), 2);
  gtk_label_set_ellipsize (GTK_LABEL (snippet_label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (snippet_label, "search-snippet");

  top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_box_append (GTK_BOX (top), chat_label);
  gtk_box_append (GTK_BOX (top), time_label);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_set_margin_top (box, 8);
  gtk_widget_set_margin_bottom (box, 8);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_box_append (GTK_BOX (box), top);
  gtk_box_append (GTK_BOX (box), snippet_label);

  row = gtk_list_box_row_new ();
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  /* Translators: how a screen reader names a search result: chat, time, then the matching text */
  description = g_strdup_printf (_("%s, %s: %s"), chat, time, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
  g_object_set_data_full (G_OBJECT (row), "companion-chat-id", g_strdup (hit->chat_id), g_free);
  g_object_set_data_full (G_OBJECT (row), "companion-message-id", g_strdup (hit->message_id), g_free);
  return row;
}

static void
clear_results (CompanionSearchView *self)
{
  GtkListBoxRow *row;

  while ((row = gtk_list_box_get_row_at_index (self->list, 0)) != NULL)
    gtk_list_box_remove (self->list, GTK_WIDGET (row));
}

static void
show_results (CompanionSearchView *self,
              Query               *query)
{
  guint shown = 0;

  clear_results (self);
  for (guint i = 0; i < query->hits->len; i++)
    {
      JsonObject *message = g_ptr_array_index (query->messages, i);

      /* Deleted between the search and the lookup. */
      if (message == NULL)
        continue;
      gtk_list_box_append (self->list, create_row (self, g_ptr_array_index (query->hits, i), message));
      shown++;
    }
  gtk_stack_set_visible_child_name (self->stack, shown > 0 ? "results" : "none");
  g_signal_emit (self, signals[SIGNAL_SEARCHED], 0, query->query, shown);
}

static gboolean
query_failed (Query  *query,
              GError *error)
{
  if (error == NULL)
    return FALSE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_debug ("Search failed: %s", error->message);
      if (!g_cancellable_is_cancelled (query->cancellable))
        {
          clear_results (query->self);
          gtk_stack_set_visible_child_name (query->self->stack, "none");
        }
    }
  return TRUE;
}

static void
on_names_resolved (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(Query) query = user_data;
  g_autoptr(GError) error = NULL;

  companion_name_cache_resolve_finish (COMPANION_NAME_CACHE (source), result, &error);
  /* A stale query's results never replace a newer one's. */
  if (g_cancellable_is_cancelled (query->cancellable) || query_failed (query, error))
    return;
  show_results (query->self, query);
}

static void look_up_next_message (Query *query);

static void
on_message_looked_up (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(Query) query = user_data;
  g_autoptr(GError) error = NULL;
  JsonObject *message;

  message = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (g_cancellable_is_cancelled (query->cancellable) || query_failed (query, error))
    {
      unref_record (message);
      return;
    }
  g_ptr_array_add (query->messages, message);
  look_up_next_message (g_steal_pointer (&query));
}

static void
look_up_next_message (Query *query)
{
  CompanionSearchView *self = query->self;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) chats = NULL;

  if (query->messages->len < query->hits->len)
    {
      CompanionMirrorSearchHit *hit = g_ptr_array_index (query->hits, query->messages->len);

      companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_MESSAGE, hit->message_id,
                                            query->cancellable, on_message_looked_up, query);
      return;
    }

  builder = g_strv_builder_new ();
  for (guint i = 0; i < query->hits->len; i++)
    g_strv_builder_add (builder, ((CompanionMirrorSearchHit *) g_ptr_array_index (query->hits, i))->chat_id);
  chats = g_strv_builder_end (builder);
  companion_name_cache_resolve_async (self->names, (const char * const *) chats, NULL, query->cancellable,
                                      on_names_resolved, query);
}

static void
on_searched (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Query) query = user_data;
  g_autoptr(GError) error = NULL;

  query->hits = companion_mirror_reader_search_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (g_cancellable_is_cancelled (query->cancellable) || query_failed (query, error))
    return;
  query->messages = g_ptr_array_new_with_free_func (unref_record);
  look_up_next_message (g_steal_pointer (&query));
}

static void
on_search_changed (CompanionSearchView *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  Query *query;

  /* Whatever is still running answers a query nobody wants now. */
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (*stripped == '\0')
    {
      clear_results (self);
      gtk_stack_set_visible_child_name (self->stack, "start");
      return;
    }

  self->cancellable = g_cancellable_new ();
  query = g_new0 (Query, 1);
  query->self = g_object_ref (self);
  query->cancellable = g_object_ref (self->cancellable);
  query->query = g_strdup (stripped);
  companion_mirror_reader_search_async (self->reader, stripped, MARK_START, MARK_END, RESULT_LIMIT,
                                        query->cancellable, on_searched, query);
}

static void
on_row_activated (CompanionSearchView *self,
                  GtkListBoxRow       *row)
{
  g_signal_emit (self, signals[SIGNAL_OPEN_MESSAGE], 0,
                 g_object_get_data (G_OBJECT (row), "companion-chat-id"),
                 g_object_get_data (G_OBJECT (row), "companion-message-id"));
}

static GtkWidget *
status_page (const char *icon,
             const char *title,
             const char *description)
{
  GtkWidget *page = adw_status_page_new ();

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (page), icon);
  adw_status_page_set_title (ADW_STATUS_PAGE (page), title);
  adw_status_page_set_description (ADW_STATUS_PAGE (page), description);
  return page;
}

static void
companion_search_view_dispose (GObject *object)
{
  CompanionSearchView *self = COMPANION_SEARCH_VIEW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->names);
  g_clear_object (&self->reader);

  G_OBJECT_CLASS (companion_search_view_parent_class)->dispose (object);
}

static void
companion_search_view_class_init (CompanionSearchViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_search_view_dispose;

  signals[SIGNAL_OPEN_MESSAGE] = g_signal_new ("open-message", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                               G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_SEARCHED] = g_signal_new ("searched", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
}

static void
companion_search_view_init (CompanionSearchView *self)
{
  GtkWidget *box, *clamp, *scroller, *entry_clamp;

  self->entry = GTK_SEARCH_ENTRY (gtk_search_entry_new ());
  gtk_search_entry_set_search_delay (self->entry, SEARCH_DELAY_MS);
  g_object_set (self->entry, "placeholder-text", _("Search all chats"), NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Search all chats"), -1);
  g_signal_connect_object (self->entry, "search-changed", G_CALLBACK (on_search_changed), self,
                           G_CONNECT_SWAPPED);
  entry_clamp = adw_clamp_new ();
  adw_clamp_set_child (ADW_CLAMP (entry_clamp), GTK_WIDGET (self->entry));
  gtk_widget_set_margin_top (entry_clamp, 12);
  gtk_widget_set_margin_bottom (entry_clamp, 6);
  gtk_widget_set_margin_start (entry_clamp, 12);
  gtk_widget_set_margin_end (entry_clamp, 12);

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_list_box_set_activate_on_single_click (self->list, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "boxed-list");
  gtk_widget_set_valign (GTK_WIDGET (self->list), GTK_ALIGN_START);
  gtk_widget_set_margin_top (GTK_WIDGET (self->list), 6);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->list), 12);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Search results"), -1);
  g_signal_connect_object (self->list, "row-activated", G_CALLBACK (on_row_activated), self,
                           G_CONNECT_SWAPPED);
  clamp = adw_clamp_new ();
  adw_clamp_set_child (ADW_CLAMP (clamp), GTK_WIDGET (self->list));
  gtk_widget_set_margin_start (clamp, 12);
  gtk_widget_set_margin_end (clamp, 12);
  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), clamp);

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->stack), TRUE);
  gtk_stack_add_named (self->stack,
                       status_page ("system-search-symbolic", _("Search Your Chats"),
                                    _("Every mirrored message is searched, even while the phone is away.")),
                       "start");
  gtk_stack_add_named (self->stack, scroller, "results");
  gtk_stack_add_named (self->stack,
                       status_page ("system-search-symbolic", _("No Results"),
                                    _("No message holds all of these words.")),
                       "none");

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append (GTK_BOX (box), entry_clamp);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->stack));
  adw_bin_set_child (ADW_BIN (self), box);
}

CompanionSearchView *
companion_search_view_new (CompanionMirrorReader *reader)
{
  CompanionSearchView *self;

  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (reader), NULL);

  self = g_object_new (COMPANION_TYPE_SEARCH_VIEW, NULL);
  self->reader = g_object_ref (reader);
  self->names = companion_name_cache_new (reader);
  return self;
}

void
companion_search_view_focus_entry (CompanionSearchView *self)
{
  g_return_if_fail (COMPANION_IS_SEARCH_VIEW (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->entry));
  gtk_editable_select_region (GTK_EDITABLE (self->entry), 0, -1);
}

void
companion_search_view_set_text (CompanionSearchView *self,
                                const char          *text)
{
  g_return_if_fail (COMPANION_IS_SEARCH_VIEW (self));
  g_return_if_fail (text != NULL);

  gtk_editable_set_text (GTK_EDITABLE (self->entry), text);
}
