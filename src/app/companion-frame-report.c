/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-frame-report"

#include "config.h"

#include "companion-chat-list.h"
#include "companion-frame-report.h"
#include "companion-json-line.h"

typedef struct
{
  CompanionWindow *window;    /* unowned: the watch ends with its frame clock */
  gboolean         first_done;
} FrameWatch;

static void
on_after_paint (GdkFrameClock *clock,
                FrameWatch    *watch)
{
  guint chats = g_list_model_get_n_items (G_LIST_MODEL (companion_window_get_chat_list (watch->window)));

  if (!watch->first_done)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("first-frame");

      companion_json_line_print (builder);
      watch->first_done = TRUE;
    }
  /* Rows in the model before this frame's layout were painted in it. */
  if (chats > 0)
    {
      g_autoptr(JsonBuilder) builder = companion_json_line_begin ("chats-shown");

      json_builder_set_member_name (builder, "chats");
      json_builder_add_int_value (builder, chats);
      companion_json_line_print (builder);
      g_signal_handlers_disconnect_by_func (clock, on_after_paint, watch);
    }
}

static void
frame_watch_free (gpointer  data,
                  GClosure *closure)
{
  g_free (data);
}

static void
on_realize (GtkWidget *widget)
{
  FrameWatch *watch = g_new0 (FrameWatch, 1);

  watch->window = COMPANION_WINDOW (widget);
  g_signal_connect_data (gtk_widget_get_frame_clock (widget), "after-paint", G_CALLBACK (on_after_paint),
                         watch, frame_watch_free, 0);
}

void
companion_frame_report_watch (CompanionWindow *window)
{
  g_return_if_fail (COMPANION_IS_WINDOW (window));

  if (g_strcmp0 (g_getenv ("COMPANION_REPORT_FIRST_FRAME"), "1") != 0)
    return;
  g_signal_connect (window, "realize", G_CALLBACK (on_realize), NULL);
}
