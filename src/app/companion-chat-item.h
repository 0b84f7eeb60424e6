/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "companion-mirror-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_CHAT_ITEM (companion_chat_item_get_type ())

G_DECLARE_FINAL_TYPE (CompanionChatItem, companion_chat_item, COMPANION, CHAT_ITEM, GObject)

/* One row of the chat list: a chat record with its newest message. Updated
 * in place when the mirror changes, so rows keep their place and focus;
 * "changed" tells the row to show it again. */
CompanionChatItem *companion_chat_item_new          (CompanionMirrorChat *chat);
/* Takes the new state of the same chat; emits "changed" if anything differs. */
void               companion_chat_item_update       (CompanionChatItem   *self,
                                                     CompanionMirrorChat *chat);
const char        *companion_chat_item_get_id       (CompanionChatItem   *self);
/* The chat's title, or for a direct chat without one its contact's name
 * once known (companion_chat_item_set_contact_name). */
const char        *companion_chat_item_get_title    (CompanionChatItem   *self);
void               companion_chat_item_set_contact_name (CompanionChatItem *self,
                                                     const char          *name);
/* The contact a direct chat without a title is named after, else NULL. */
const char        *companion_chat_item_get_unnamed_contact (CompanionChatItem *self);
const char        *companion_chat_item_get_preview  (CompanionChatItem   *self);
gint64             companion_chat_item_get_time     (CompanionChatItem   *self);
guint              companion_chat_item_get_unread   (CompanionChatItem   *self);
gboolean           companion_chat_item_is_group     (CompanionChatItem   *self);
gboolean           companion_chat_item_is_pinned    (CompanionChatItem   *self);
gboolean           companion_chat_item_is_muted     (CompanionChatItem   *self);
gboolean           companion_chat_item_is_archived  (CompanionChatItem   *self);
/* The chat record (docs/records.md). */
JsonObject        *companion_chat_item_get_record   (CompanionChatItem   *self);

G_END_DECLS
