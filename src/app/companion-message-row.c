/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-message-row"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-chat-row.h"
#include "companion-message-row.h"

struct _CompanionMessageRow
{
  GtkWidget             parent_instance;

  CompanionMessageItem *item;
  char                 *description;

  GtkWidget            *box;
  GtkLabel             *day_label;
  GtkWidget            *bubble;
  GtkLabel             *sender_label;
  GtkLabel             *quote_label;
  GtkButton            *media_button;
  GtkPicture           *thumbnail;
  GtkLabel             *media_label;
  GtkProgressBar       *download_bar;
  GtkLabel             *text_label;
  GtkLabel             *meta_label;
  GtkLabel             *reactions_label;
};

G_DEFINE_FINAL_TYPE (CompanionMessageRow, companion_message_row, GTK_TYPE_WIDGET)

static char *
format_day (gint64 time_ms)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (time_ms / 1000);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) yesterday = NULL;

  if (when == NULL || now == NULL)
    return g_strdup ("");
  yesterday = g_date_time_add_days (now, -1);
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    return g_strdup (_("Today"));
  if (g_date_time_get_year (when) == g_date_time_get_year (yesterday) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (yesterday))
    return g_strdup (_("Yesterday"));
  /* Translators: a day separator in a conversation, as strftime() formats it */
  return g_date_time_format (when, _("%A, %-d %B %Y"));
}

static const char *
status_ticks (const char *status,
              gboolean    pending)
{
  /* Clock while waiting for the phone, one tick sent, two delivered or read. */
  if (pending || g_strcmp0 (status, "pending") == 0)
    return "🕓";
  if (g_strcmp0 (status, "sent") == 0)
    return "✓";
  if (g_strcmp0 (status, "delivered") == 0 || g_strcmp0 (status, "read") == 0)
    return "✓✓";
  return "";
}

static const char *
status_words (const char *status,
              gboolean    pending)
{
  if (pending)
    return _("waiting for the phone");
  if (g_strcmp0 (status, "pending") == 0)
    return _("sending");
  if (g_strcmp0 (status, "sent") == 0)
    return _("sent");
  if (g_strcmp0 (status, "delivered") == 0)
    return _("delivered");
  if (g_strcmp0 (status, "read") == 0)
    return _("read");
  return NULL;
}

static GdkTexture *
thumbnail_texture (CompanionMessageItem *item,
                   JsonObject           *media)
{
  GdkTexture *texture = g_object_get_data (G_OBJECT (item), "companion-thumbnail");
  const char *base64 = json_object_get_string_member_with_default (media, "thumbnail", NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  guchar *data;
  gsize length;

  if (texture != NULL || base64 == NULL)
    return texture;
  /* Decoded once per message: the record keeps it as text. */
  data = g_base64_decode (base64, &length);
  bytes = g_bytes_new_take (data, length);
  texture = gdk_texture_new_from_bytes (bytes, &error);
  if (texture == NULL)
    {
      g_debug ("Thumbnail of %s: %s", companion_message_item_get_id (item), error->message);
      return NULL;
    }
  g_object_set_data_full (G_OBJECT (item), "companion-thumbnail", texture, g_object_unref);
  return texture;
}

static void
show_media (CompanionMessageRow *self,
            JsonObject          *media,
            GString             *description)
{
  CompanionMessageItem *item = self->item;
  const char *hash = companion_message_item_get_media_hash (item);
  double download = companion_message_item_get_download (item);
  g_autofree char *size = NULL;
  g_autofree char *text = NULL;
  GdkTexture *texture;

  gtk_widget_set_visible (GTK_WIDGET (self->media_button), hash != NULL);
  if (hash == NULL)
    {
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->media_button), NULL);
      return;
    }
  /* Target first: an action without its parameter is refused. */
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->media_button), "s", hash);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->media_button), "conversation.open-media");
  if (media == NULL)
    {
      companion_label_update (self->media_label, _("Attachment"));
      gtk_picture_set_paintable (self->thumbnail, NULL);
      gtk_widget_set_visible (GTK_WIDGET (self->thumbnail), FALSE);
      return;
    }

  texture = thumbnail_texture (item, media);
  gtk_picture_set_paintable (self->thumbnail, GDK_PAINTABLE (texture));
  gtk_widget_set_visible (GTK_WIDGET (self->thumbnail), texture != NULL);
  size = g_format_size ((guint64) json_object_get_int_member_with_default (media, "size", 0));
  /* Translators: a file's name and size, e.g. "ticket.pdf · 40 kB" */
  text = g_strdup_printf (_("%s · %s"), json_object_get_string_member_with_default (media, "name", ""), size);
  companion_label_update (self->media_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->download_bar), download >= 0);
  if (download >= 0)
    gtk_progress_bar_set_fraction (self->download_bar, download);
  if (gtk_widget_get_tooltip_text (GTK_WIDGET (self->media_button)) == NULL)
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->media_button), _("Open"));
  /* Translators: %s is a file's name and size */
  g_string_append_printf (description, _(", attachment %s"), text);
}

static void
show_item (CompanionMessageRow *self)
{
  CompanionMessageItem *item = self->item;
  JsonObject *record;
  JsonObject *quoted;
  JsonObject *reactions;
  g_autoptr(GString) meta = g_string_new (NULL);
  g_autoptr(GString) description = g_string_new (NULL);
  g_autofree char *time = NULL;
  gboolean outgoing, deleted, edited, pending;
  const char *text, *status, *sender, *words;

  if (item == NULL)
    return;
  record = companion_message_item_get_record (item);
  outgoing = companion_message_item_is_outgoing (item);
  pending = companion_message_item_is_pending (item);
  deleted = json_object_get_boolean_member_with_default (record, "deleted", FALSE);
  edited = json_object_has_member (record, "edited_at") && !json_object_get_null_member (record, "edited_at");
  text = json_object_get_string_member_with_default (record, "text", "");
  status = json_object_get_string_member_with_default (record, "status", NULL);
  sender = companion_message_item_get_sender_name (item);

  if (companion_message_item_starts_day (item))
    {
      g_autofree char *day = format_day (companion_message_item_get_time (item));
      companion_label_update (self->day_label, day);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), companion_message_item_starts_day (item));

  gtk_widget_set_halign (self->bubble, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  if (outgoing)
    {
      gtk_widget_add_css_class (self->bubble, "outgoing");
      gtk_widget_remove_css_class (self->bubble, "incoming");
    }
  else
    {
      gtk_widget_add_css_class (self->bubble, "incoming");
      gtk_widget_remove_css_class (self->bubble, "outgoing");
    }
  if (pending)
    gtk_widget_add_css_class (self->bubble, "pending");
  else
    gtk_widget_remove_css_class (self->bubble, "pending");

  companion_label_update (self->sender_label, sender != NULL ? sender : "");
  gtk_widget_set_visible (GTK_WIDGET (self->sender_label),
                          companion_message_item_shows_sender (item) && sender != NULL);

  if (outgoing)
    g_string_append (description, _("You"));
  else
    g_string_append (description, sender != NULL ? sender : _("Contact"));

  quoted = companion_message_item_get_quoted (item);
  gtk_widget_set_visible (GTK_WIDGET (self->quote_label), companion_message_item_get_reply_to (item) != NULL);
  if (companion_message_item_get_reply_to (item) != NULL)
    {
      const char *quote = quoted != NULL ? json_object_get_string_member_with_default (quoted, "text", "") : "";

      if (quoted != NULL && json_object_get_boolean_member_with_default (quoted, "deleted", FALSE))
        quote = _("Deleted message");
      else if (*quote == '\0')
        quote = _("Original message");
      companion_label_update (self->quote_label, quote);
      /* Translators: %s is the text of the message replied to */
      g_string_append_printf (description, _(", replying to “%s”"), quote);
    }

  show_media (self, companion_message_item_get_media (item), description);

  if (deleted)
    {
      companion_label_update (self->text_label, _("This message was deleted"));
      gtk_widget_add_css_class (GTK_WIDGET (self->text_label), "dim-label");
    }
  else
    {
      companion_label_update (self->text_label, text);
      gtk_widget_remove_css_class (GTK_WIDGET (self->text_label), "dim-label");
    }
  gtk_widget_set_visible (GTK_WIDGET (self->text_label), deleted || *text != '\0');
  g_string_append_printf (description, ": %s", gtk_label_get_label (self->text_label));

  time = companion_format_time_of_day (companion_message_item_get_time (item));
  if (edited && !deleted)
    g_string_append_printf (meta, "%s · ", _("edited"));
  g_string_append (meta, time);
  if (outgoing)
    g_string_append_printf (meta, " %s", status_ticks (status, pending));
  companion_label_update (self->meta_label, meta->str);
  g_string_append_printf (description, ", %s", time);
  if (edited && !deleted)
    g_string_append_printf (description, ", %s", _("edited"));
  words = outgoing ? status_words (status, pending) : NULL;
  if (words != NULL)
    g_string_append_printf (description, ", %s", words);

  reactions = json_object_has_member (record, "reactions") && !json_object_get_null_member (record, "reactions")
              ? json_object_get_object_member (record, "reactions") : NULL;
  if (reactions != NULL && json_object_get_size (reactions) > 0)
    {
      g_autoptr(GString) shown = g_string_new (NULL);
      GList *members = json_object_get_members (reactions);

      for (GList *l = members; l != NULL; l = l->next)
        g_string_append (shown, json_object_get_string_member (reactions, l->data));
      g_list_free (members);
      companion_label_update (self->reactions_label, shown->str);
      /* Translators: %s is one or more emoji */
      g_string_append_printf (description, _(", reactions %s"), shown->str);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->reactions_label), reactions != NULL && json_object_get_size (reactions) > 0);

  g_free (self->description);
  self->description = g_string_free (g_steal_pointer (&description), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, self->description, -1);
}

static GtkLabel *
bubble_label (const char *css_class)
{
  GtkLabel *label = GTK_LABEL (gtk_label_new (NULL));

  gtk_label_set_xalign (label, 0);
  gtk_label_set_wrap (label, TRUE);
  gtk_label_set_wrap_mode (label, PANGO_WRAP_WORD_CHAR);
  /* A minimum width in characters: otherwise measuring a wrapping label
   * lays its text out one character per line, the bulk of the time a
   * scrolled conversation takes to show new rows. */
  gtk_label_set_width_chars (label, 8);
  if (css_class != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (label), css_class);
  return label;
}

static void
companion_message_row_dispose (GObject *object)
{
  CompanionMessageRow *self = COMPANION_MESSAGE_ROW (object);

  companion_message_row_set_item (self, NULL);
  g_clear_pointer (&self->box, gtk_widget_unparent);

  G_OBJECT_CLASS (companion_message_row_parent_class)->dispose (object);
}

static void
companion_message_row_finalize (GObject *object)
{
  CompanionMessageRow *self = COMPANION_MESSAGE_ROW (object);

  g_clear_pointer (&self->description, g_free);

  G_OBJECT_CLASS (companion_message_row_parent_class)->finalize (object);
}

static void
companion_message_row_class_init (CompanionMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_message_row_dispose;
  object_class->finalize = companion_message_row_finalize;

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
companion_message_row_init (CompanionMessageRow *self)
{
  GtkWidget *media_box;

  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));

  self->day_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->day_label), "day-separator");
  gtk_widget_set_halign (GTK_WIDGET (self->day_label), GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->box), GTK_WIDGET (self->day_label));

  self->bubble = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_add_css_class (self->bubble, "bubble");
  gtk_box_append (GTK_BOX (self->box), self->bubble);

  self->sender_label = bubble_label ("sender");
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->sender_label));
  self->quote_label = bubble_label ("quote");
  gtk_label_set_lines (self->quote_label, 2);
  gtk_label_set_ellipsize (self->quote_label, PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->quote_label));

  self->media_button = GTK_BUTTON (gtk_button_new ());
  gtk_widget_add_css_class (GTK_WIDGET (self->media_button), "flat");
  gtk_widget_add_css_class (GTK_WIDGET (self->media_button), "media");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->media_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Open attachment"), -1);
  media_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_button_set_child (self->media_button, media_box);
  self->thumbnail = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->thumbnail, FALSE);
  gtk_widget_set_halign (GTK_WIDGET (self->thumbnail), GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (media_box), GTK_WIDGET (self->thumbnail));
  self->media_label = bubble_label ("caption");
  gtk_box_append (GTK_BOX (media_box), GTK_WIDGET (self->media_label));
  self->download_bar = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->download_bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Download progress"), -1);
  gtk_box_append (GTK_BOX (media_box), GTK_WIDGET (self->download_bar));
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->media_button));

  self->text_label = bubble_label (NULL);
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->text_label));
  self->meta_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->meta_label, 1);
  gtk_widget_add_css_class (GTK_WIDGET (self->meta_label), "caption");
  gtk_widget_add_css_class (GTK_WIDGET (self->meta_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->meta_label), "numeric");
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->meta_label));
  self->reactions_label = bubble_label ("reactions");
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->reactions_label));
}

GtkWidget *
companion_message_row_new (void)
{
  return g_object_new (COMPANION_TYPE_MESSAGE_ROW, NULL);
}

void
companion_message_row_set_item (CompanionMessageRow  *self,
                                CompanionMessageItem *item)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ROW (self));

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

CompanionMessageItem *
companion_message_row_get_item (CompanionMessageRow *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ROW (self), NULL);
  return self->item;
}

const char *
companion_message_row_get_description (CompanionMessageRow *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ROW (self), NULL);
  return self->description;
}
