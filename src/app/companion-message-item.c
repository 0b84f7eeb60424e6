/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-message-item"

#include "config.h"

#include "companion-message-item.h"

struct _CompanionMessageItem
{
  GObject     parent_instance;

  JsonObject *record;
  gboolean    pending;
  char       *sender_name;
  JsonObject *media;
  JsonObject *quoted;
  gboolean    starts_day;
  gboolean    shows_sender;
  double      download;
};

G_DEFINE_FINAL_TYPE (CompanionMessageItem, companion_message_item, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
emit_changed (CompanionMessageItem *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
companion_message_item_finalize (GObject *object)
{
  CompanionMessageItem *self = COMPANION_MESSAGE_ITEM (object);

  g_clear_pointer (&self->record, json_object_unref);
  g_clear_pointer (&self->media, json_object_unref);
  g_clear_pointer (&self->quoted, json_object_unref);
  g_clear_pointer (&self->sender_name, g_free);

  G_OBJECT_CLASS (companion_message_item_parent_class)->finalize (object);
}

static void
companion_message_item_class_init (CompanionMessageItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_message_item_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
companion_message_item_init (CompanionMessageItem *self)
{
  self->download = -1;
}

CompanionMessageItem *
companion_message_item_new (JsonObject *record)
{
  CompanionMessageItem *self;

  g_return_val_if_fail (record != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_MESSAGE_ITEM, NULL);
  self->record = json_object_ref (record);
  return self;
}

CompanionMessageItem *
companion_message_item_new_pending (const char *client_id,
                                    const char *chat_id,
                                    const char *text,
                                    gint64      created)
{
  g_autoptr(JsonObject) record = json_object_new ();
  CompanionMessageItem *self;

  json_object_set_string_member (record, "id", client_id);
  json_object_set_string_member (record, "chat", chat_id);
  json_object_set_int_member (record, "time", created);
  json_object_set_string_member (record, "text", text != NULL ? text : "");
  json_object_set_string_member (record, "status", "pending");
  json_object_set_boolean_member (record, "deleted", FALSE);
  self = companion_message_item_new (record);
  self->pending = TRUE;
  return self;
}

void
companion_message_item_update (CompanionMessageItem *self,
                               JsonObject           *record)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ITEM (self));

  if (json_object_equal (self->record, record))
    return;
  g_clear_pointer (&self->record, json_object_unref);
  self->record = json_object_ref (record);
  emit_changed (self);
}

JsonObject *
companion_message_item_get_record (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return self->record;
}

const char *
companion_message_item_get_id (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return json_object_get_string_member (self->record, "id");
}

gint64
companion_message_item_get_time (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), 0);
  return json_object_get_int_member_with_default (self->record, "time", 0);
}

const char *
companion_message_item_get_from (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return json_object_get_string_member_with_default (self->record, "from", NULL);
}

gboolean
companion_message_item_is_outgoing (CompanionMessageItem *self)
{
  return companion_message_item_get_from (self) == NULL;
}

gboolean
companion_message_item_is_pending (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), FALSE);
  return self->pending;
}

const char *
companion_message_item_get_media_hash (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return json_object_get_string_member_with_default (self->record, "media", NULL);
}

const char *
companion_message_item_get_reply_to (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return json_object_get_string_member_with_default (self->record, "reply_to", NULL);
}

const char *
companion_message_item_get_sender_name (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return self->sender_name;
}

void
companion_message_item_set_sender_name (CompanionMessageItem *self,
                                        const char           *name)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ITEM (self));

  if (g_strcmp0 (self->sender_name, name) == 0)
    return;
  g_free (self->sender_name);
  self->sender_name = g_strdup (name);
  emit_changed (self);
}

JsonObject *
companion_message_item_get_media (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return self->media;
}

void
companion_message_item_set_media (CompanionMessageItem *self,
                                  JsonObject           *media)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ITEM (self));

  if (self->media == media)
    return;
  g_clear_pointer (&self->media, json_object_unref);
  self->media = media != NULL ? json_object_ref (media) : NULL;
  emit_changed (self);
}

JsonObject *
companion_message_item_get_quoted (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), NULL);
  return self->quoted;
}

void
companion_message_item_set_quoted (CompanionMessageItem *self,
                                   JsonObject           *quoted)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ITEM (self));

  if (self->quoted == quoted)
    return;
  g_clear_pointer (&self->quoted, json_object_unref);
  self->quoted = quoted != NULL ? json_object_ref (quoted) : NULL;
  emit_changed (self);
}

gboolean
companion_message_item_starts_day (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), FALSE);
  return self->starts_day;
}

gboolean
companion_message_item_shows_sender (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), FALSE);
  return self->shows_sender;
}

void
companion_message_item_set_place (CompanionMessageItem *self,
                                  gboolean              starts_day,
                                  gboolean              shows_sender)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ITEM (self));

  if (self->starts_day == starts_day && self->shows_sender == shows_sender)
    return;
  self->starts_day = starts_day;
  self->shows_sender = shows_sender;
  emit_changed (self);
}

double
companion_message_item_get_download (CompanionMessageItem *self)
{
  g_return_val_if_fail (COMPANION_IS_MESSAGE_ITEM (self), -1);
  return self->download;
}

void
companion_message_item_set_download (CompanionMessageItem *self,
                                     double                fraction)
{
  g_return_if_fail (COMPANION_IS_MESSAGE_ITEM (self));

  if (self->download == fraction)
    return;
  self->download = fraction;
  emit_changed (self);
}
