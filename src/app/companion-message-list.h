/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "companion-message-item.h"
#include "companion-mirror-reader.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_MESSAGE_LIST (companion_message_list_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMessageList, companion_message_list, COMPANION, MESSAGE_LIST, GObject)

/* The messages of one chat as a GListModel of CompanionMessageItem, oldest
 * first, read through READER a page at a time: the newest page first, older
 * ones on demand. The commands "message-out" for the chat still in the
 * outbox follow as pending items. A refresh reads the newest page and the
 * outbox again and emits "items-changed" only for what differs. "loaded"
 * is emitted after each read that changed the list. */
CompanionMessageList *companion_message_list_new        (CompanionMirrorReader *reader,
                                                         const char            *chat_id,
                                                         gboolean               is_group);
const char           *companion_message_list_get_chat_id (CompanionMessageList *self);
/* Reads the newest page and the outbox again (the first call loads). */
void                  companion_message_list_refresh    (CompanionMessageList  *self);
/* Reads the page before the oldest message shown, unless one is under way
 * or the oldest message is the chat's first. */
void                  companion_message_list_load_older (CompanionMessageList  *self);
gboolean              companion_message_list_is_loaded  (CompanionMessageList  *self);
gboolean              companion_message_list_is_loading_older (CompanionMessageList *self);
gboolean              companion_message_list_reached_start (CompanionMessageList *self);
/* The item of message (or client) ID, or NULL. */
CompanionMessageItem *companion_message_list_find       (CompanionMessageList  *self,
                                                         const char            *id);

G_END_DECLS
