/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-chat-row"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-chat-row.h"

struct _CompanionChatRow
{
  GtkWidget          parent_instance;

  CompanionChatItem *item;
  char              *description;

  GtkWidget         *box;
  AdwAvatar         *avatar;
  GtkLabel          *title_label;
  GtkLabel          *preview_label;
  GtkLabel          *time_label;
  GtkLabel          *unread_label;
  GtkWidget         *pinned_icon;
  GtkWidget         *muted_icon;
  GtkWidget         *archived_icon;
};

G_DEFINE_FINAL_TYPE (CompanionChatRow, companion_chat_row, GTK_TYPE_WIDGET)

char *
companion_format_short_time (gint64 time_ms)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_ms / 1000);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  GTimeSpan ago;

  if (when == NULL || now == NULL)
    return g_strdup ("");
  ago = g_date_time_difference (now, when);
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    return companion_format_time_of_day (time_ms);
  if (ago >= 0 && ago < 6 * G_TIME_SPAN_DAY)
    /* Translators: a day this week, as strftime() formats it */
    return g_date_time_format (when, _("%a"));
  /* Translators: an older date, as strftime() formats it */
  return g_date_time_format (when, _("%d.%m.%y"));
}

char *
companion_format_time_of_day (gint64 time_ms)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_ms / 1000);

  if (when == NULL)
    return g_strdup ("");
  /* Translators: a time of day, as strftime() formats it */
  return g_date_time_format (when, _("%H:%M"));
}

void
companion_label_update (GtkLabel   *label,
                        const char *text)
{
  if (g_strcmp0 (gtk_label_get_label (label), text) != 0)
    gtk_label_set_label (label, text);
}

static GtkWidget *
mark_icon (const char *icon_name)
{
  GtkWidget *icon = gtk_image_new_from_icon_name (icon_name);

  gtk_widget_add_css_class (icon, "dim-label");
  gtk_widget_set_visible (icon, FALSE);
  return icon;
}

/* The tooltip is set when the mark first shows: rows are made by the
 * hundred, and most chats are neither pinned, muted nor archived. */
static void
show_mark (GtkWidget  *icon,
           gboolean    shown,
           const char *tooltip)
{
  gtk_widget_set_visible (icon, shown);
  if (shown && gtk_widget_get_tooltip_text (icon) == NULL)
    gtk_widget_set_tooltip_text (icon, tooltip);
}

static void
show_item (CompanionChatRow *self)
{
  CompanionChatItem *item = self->item;
  g_autofree char *time = NULL;
  g_autofree char *unread = NULL;
  g_autoptr(GString) description = g_string_new (NULL);
  guint count;

  if (item == NULL)
    return;

  adw_avatar_set_text (self->avatar, companion_chat_item_get_title (item));
  companion_label_update (self->title_label, companion_chat_item_get_title (item));
  companion_label_update (self->preview_label, companion_chat_item_get_preview (item));
  time = companion_chat_item_get_time (item) > 0 ? companion_format_short_time (companion_chat_item_get_time (item))
                                                 : g_strdup ("");
  companion_label_update (self->time_label, time);

  count = companion_chat_item_get_unread (item);
  unread = count > 999 ? g_strdup ("999+") : g_strdup_printf ("%u", count);
  companion_label_update (self->unread_label, unread);
  gtk_widget_set_visible (GTK_WIDGET (self->unread_label), count > 0);
  if (companion_chat_item_is_muted (item))
    gtk_widget_add_css_class (GTK_WIDGET (self->unread_label), "muted");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->unread_label), "muted");
  show_mark (self->pinned_icon, companion_chat_item_is_pinned (item), _("Pinned"));
  show_mark (self->muted_icon, companion_chat_item_is_muted (item), _("Muted"));
  show_mark (self->archived_icon, companion_chat_item_is_archived (item), _("Archived"));

  /* One sentence for screen readers and for the tests that read them. */
  g_string_append (description, companion_chat_item_get_title (item));
  if (count > 0)
    {
      g_string_append (description, ", ");
      /* Translators: %u is a number of unread messages */
      g_string_append_printf (description, ngettext ("%u unread message", "%u unread messages", count), count);
    }
  if (companion_chat_item_is_pinned (item))
    g_string_append_printf (description, ", %s", _("pinned"));
  if (companion_chat_item_is_muted (item))
    g_string_append_printf (description, ", %s", _("muted"));
  if (companion_chat_item_is_archived (item))
    g_string_append_printf (description, ", %s", _("archived"));
  if (*companion_chat_item_get_preview (item) != '\0')
    g_string_append_printf (description, ": %s", companion_chat_item_get_preview (item));
  if (*time != '\0')
    g_string_append_printf (description, ", %s", time);
  g_free (self->description);
  self->description = g_string_free (g_steal_pointer (&description), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, self->description, -1);
}

static void
companion_chat_row_dispose (GObject *object)
{
  CompanionChatRow *self = COMPANION_CHAT_ROW (object);

  companion_chat_row_set_item (self, NULL);
  g_clear_pointer (&self->box, gtk_widget_unparent);

  G_OBJECT_CLASS (companion_chat_row_parent_class)->dispose (object);
}

static void
companion_chat_row_finalize (GObject *object)
{
  CompanionChatRow *self = COMPANION_CHAT_ROW (object);

  g_clear_pointer (&self->description, g_free);

  G_OBJECT_CLASS (companion_chat_row_parent_class)->finalize (object);
}

static void
companion_chat_row_class_init (CompanionChatRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_chat_row_dispose;
  object_class->finalize = companion_chat_row_finalize;

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "chatrow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
companion_chat_row_init (CompanionChatRow *self)
{
  GtkWidget *text_box, *top_box, *bottom_box;

  self->box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));

  self->avatar = ADW_AVATAR (adw_avatar_new (40, NULL, TRUE));
  gtk_box_append (GTK_BOX (self->box), GTK_WIDGET (self->avatar));

  text_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_set_hexpand (text_box, TRUE);
  gtk_widget_set_valign (text_box, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->box), text_box);

  top_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_append (GTK_BOX (text_box), top_box);
  self->title_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->title_label, 0);
  gtk_label_set_ellipsize (self->title_label, PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (GTK_WIDGET (self->title_label), TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->title_label), "heading");
  gtk_box_append (GTK_BOX (top_box), GTK_WIDGET (self->title_label));
  self->pinned_icon = mark_icon ("view-pin-symbolic");
  self->muted_icon = mark_icon ("audio-volume-muted-symbolic");
  self->archived_icon = mark_icon ("folder-symbolic");
  gtk_box_append (GTK_BOX (top_box), self->pinned_icon);
  gtk_box_append (GTK_BOX (top_box), self->muted_icon);
  gtk_box_append (GTK_BOX (top_box), self->archived_icon);
  self->time_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->time_label), "caption");
  gtk_widget_add_css_class (GTK_WIDGET (self->time_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->time_label), "numeric");
  gtk_box_append (GTK_BOX (top_box), GTK_WIDGET (self->time_label));

  bottom_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_append (GTK_BOX (text_box), bottom_box);
  self->preview_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->preview_label, 0);
  gtk_label_set_ellipsize (self->preview_label, PANGO_ELLIPSIZE_END);
  gtk_label_set_single_line_mode (self->preview_label, TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->preview_label), TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->preview_label), "dim-label");
  gtk_box_append (GTK_BOX (bottom_box), GTK_WIDGET (self->preview_label));
  self->unread_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->unread_label), "unread-badge");
  gtk_widget_add_css_class (GTK_WIDGET (self->unread_label), "numeric");
  gtk_widget_set_valign (GTK_WIDGET (self->unread_label), GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (bottom_box), GTK_WIDGET (self->unread_label));
}

GtkWidget *
companion_chat_row_new (void)
{
  return g_object_new (COMPANION_TYPE_CHAT_ROW, NULL);
}

void
companion_chat_row_set_item (CompanionChatRow  *self,
                             CompanionChatItem *item)
{
  g_return_if_fail (COMPANION_IS_CHAT_ROW (self));

  if (self->item == item)
    return;
  if (self->item != NULL)
    g_signal_handlers_disconnect_by_func (self->item, show_item, self);
  g_set_object (&self->item, item);
  if (item != NULL)
    {
      g_signal_connect_swapped (item, "changed", G_CALLBACK (show_item), self);
      show_item (self);
    }
}

CompanionChatItem *
companion_chat_row_get_item (CompanionChatRow *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ROW (self), NULL);
  return self->item;
}

const char *
companion_chat_row_get_description (CompanionChatRow *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ROW (self), NULL);
  return self->description;
}
