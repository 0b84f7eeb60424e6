/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "companion-message-item.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_MESSAGE_ROW (companion_message_row_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMessageRow, companion_message_row, COMPANION, MESSAGE_ROW, GtkWidget)

/* A message as a bubble: own messages on the right, others' on the left
 * with the sender's name in groups; a day separator above the first of a
 * day; the quoted message of a reply; the media's thumbnail or name as a
 * button that activates "conversation.open-media" with its hash; time,
 * delivery ticks, edited and deleted marks, reactions. */
GtkWidget            *companion_message_row_new             (void);
void                  companion_message_row_set_item        (CompanionMessageRow  *self,
                                                             CompanionMessageItem *item);
CompanionMessageItem *companion_message_row_get_item        (CompanionMessageRow  *self);
/* The sentence the row gives assistive technologies. */
const char           *companion_message_row_get_description (CompanionMessageRow  *self);

G_END_DECLS
