/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-chat-item"

#include "config.h"

#include "companion-chat-item.h"

struct _CompanionChatItem
{
  GObject     parent_instance;

  JsonObject *record;
  char       *preview;
  gint64      time;
  char       *contact_name;
};

G_DEFINE_FINAL_TYPE (CompanionChatItem, companion_chat_item, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
companion_chat_item_finalize (GObject *object)
{
  CompanionChatItem *self = COMPANION_CHAT_ITEM (object);

  g_clear_pointer (&self->record, json_object_unref);
  g_clear_pointer (&self->preview, g_free);
  g_clear_pointer (&self->contact_name, g_free);

  G_OBJECT_CLASS (companion_chat_item_parent_class)->finalize (object);
}

static void
companion_chat_item_class_init (CompanionChatItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_chat_item_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
companion_chat_item_init (CompanionChatItem *self)
{
}

CompanionChatItem *
companion_chat_item_new (CompanionMirrorChat *chat)
{
  CompanionChatItem *self;

  g_return_val_if_fail (chat != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_CHAT_ITEM, NULL);
  self->record = json_object_ref (chat->record);
  self->preview = g_strdup (chat->last_message_preview);
  self->time = chat->last_message_time;
  return self;
}

void
companion_chat_item_update (CompanionChatItem   *self,
                            CompanionMirrorChat *chat)
{
  gboolean same;

  g_return_if_fail (COMPANION_IS_CHAT_ITEM (self));
  g_return_if_fail (chat != NULL);

  same = self->time == chat->last_message_time &&
         g_strcmp0 (self->preview, chat->last_message_preview) == 0 &&
         json_object_equal (self->record, chat->record);
  if (same)
    return;

  g_clear_pointer (&self->record, json_object_unref);
  self->record = json_object_ref (chat->record);
  g_free (self->preview);
  self->preview = g_strdup (chat->last_message_preview);
  self->time = chat->last_message_time;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

const char *
companion_chat_item_get_id (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), NULL);
  return json_object_get_string_member (self->record, "id");
}

const char *
companion_chat_item_get_title (CompanionChatItem *self)
{
  const char *title;

  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), NULL);

  title = json_object_get_string_member_with_default (self->record, "title", "");
  if (*title == '\0' && self->contact_name != NULL)
    return self->contact_name;
  return title;
}

const char *
companion_chat_item_get_unnamed_contact (CompanionChatItem *self)
{
  JsonArray *participants;

  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), NULL);

  if (*json_object_get_string_member_with_default (self->record, "title", "") != '\0' ||
      !json_object_has_member (self->record, "participants"))
    return NULL;
  participants = json_object_get_array_member (self->record, "participants");
  if (json_array_get_length (participants) == 0)
    return NULL;
  return json_array_get_string_element (participants, 0);
}

void
companion_chat_item_set_contact_name (CompanionChatItem *self,
                                      const char        *name)
{
  g_return_if_fail (COMPANION_IS_CHAT_ITEM (self));

  if (g_strcmp0 (self->contact_name, name) == 0)
    return;
  g_free (self->contact_name);
  self->contact_name = g_strdup (name);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

const char *
companion_chat_item_get_preview (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), NULL);
  return self->preview;
}

gint64
companion_chat_item_get_time (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), 0);
  return self->time;
}

guint
companion_chat_item_get_unread (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), 0);
  return (guint) json_object_get_int_member_with_default (self->record, "unread", 0);
}

gboolean
companion_chat_item_is_group (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), FALSE);
  return g_strcmp0 (json_object_get_string_member_with_default (self->record, "kind", ""), "group") == 0;
}

gboolean
companion_chat_item_is_pinned (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), FALSE);
  return json_object_get_boolean_member_with_default (self->record, "pinned", FALSE);
}

gboolean
companion_chat_item_is_muted (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), FALSE);
  return json_object_get_boolean_member_with_default (self->record, "muted", FALSE);
}

gboolean
companion_chat_item_is_archived (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), FALSE);
  return json_object_get_boolean_member_with_default (self->record, "archived", FALSE);
}

JsonObject *
companion_chat_item_get_record (CompanionChatItem *self)
{
  g_return_val_if_fail (COMPANION_IS_CHAT_ITEM (self), NULL);
  return self->record;
}
