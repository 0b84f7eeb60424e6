/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "companion-window.h"

G_BEGIN_DECLS

/* When COMPANION_REPORT_FIRST_FRAME=1 is set, WINDOW prints JSON-line
 * events on stdout (src/core/companion-json-line.h) as its frames are
 * painted, so benchmarks can time a start from outside the process:
 * "first-frame" after its first frame, and "chats-shown" (with "chats",
 * the number of rows) after the first frame painted with chat rows.
 * Does nothing otherwise. */
void companion_frame_report_watch (CompanionWindow *window);

G_END_DECLS
