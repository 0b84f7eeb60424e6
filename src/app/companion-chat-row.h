/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-chat-item.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_CHAT_ROW (companion_chat_row_get_type ())

G_DECLARE_FINAL_TYPE (CompanionChatRow, companion_chat_row, COMPANION, CHAT_ROW, GtkWidget)

/* A row of the chat list: avatar, name, newest message, its time, the
 * unread count and the pinned, muted and archived marks. Its accessible
 * label says all of it in one sentence. */
GtkWidget         *companion_chat_row_new             (void);
void               companion_chat_row_set_item        (CompanionChatRow  *self,
                                                       CompanionChatItem *item);
CompanionChatItem *companion_chat_row_get_item        (CompanionChatRow  *self);
/* The sentence the row gives assistive technologies. */
const char        *companion_chat_row_get_description (CompanionChatRow  *self);

/* "14:05" today, "Mon" this week, else the date: shared with the
 * conversation. TIME_MS is ms since the epoch. */
char              *companion_format_short_time        (gint64             time_ms);

/* "14:05": the time of day of TIME_MS. */
char              *companion_format_time_of_day       (gint64             time_ms);

/* Sets LABEL's text unless it is that already: GtkLabel lays itself out
 * again on every set, and rows are shown again on every item change. */
void               companion_label_update             (GtkLabel          *label,
                                                       const char        *text);

G_END_DECLS
