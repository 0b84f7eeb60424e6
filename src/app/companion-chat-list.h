/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "companion-chat-item.h"
#include "companion-mirror-reader.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_CHAT_LIST (companion_chat_list_get_type ())

G_DECLARE_FINAL_TYPE (CompanionChatList, companion_chat_list, COMPANION, CHAT_LIST, GObject)

/* The chat list as a GListModel of CompanionChatItem, in the mirror's
 * order (pinned first, then newest message first), read page by page
 * through READER. The first load shows each page as it arrives; a reload
 * reuses the items of chats still there and emits "items-changed" only
 * for the rows that moved, came or went. "loaded" is emitted after each
 * complete load. */
CompanionChatList *companion_chat_list_new       (CompanionMirrorReader *reader);
/* Reads the chats again; one reload at a time, the last request wins. */
void               companion_chat_list_reload    (CompanionChatList     *self);
gboolean           companion_chat_list_is_loaded (CompanionChatList     *self);
/* The item of CHAT_ID, or NULL. */
CompanionChatItem *companion_chat_list_find      (CompanionChatList     *self,
                                                  const char            *chat_id);

G_END_DECLS
