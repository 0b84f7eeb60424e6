/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-list-splice"

#include "config.h"

#include "companion-list-splice.h"

void
companion_list_splice (GListModel *model,
                       GPtrArray  *items,
                       guint       start,
                       GPtrArray  *replacement)
{
  guint old_len, new_len, prefix = 0, suffix = 0;

  g_return_if_fail (start <= items->len);

  old_len = items->len - start;
  new_len = replacement->len;
  while (prefix < old_len && prefix < new_len &&
         g_ptr_array_index (items, start + prefix) == g_ptr_array_index (replacement, prefix))
    prefix++;
  while (suffix < old_len - prefix && suffix < new_len - prefix &&
         g_ptr_array_index (items, items->len - 1 - suffix) ==
         g_ptr_array_index (replacement, new_len - 1 - suffix))
    suffix++;

  if (old_len - prefix - suffix == 0 && new_len - prefix - suffix == 0)
    return;

  g_ptr_array_remove_range (items, start + prefix, old_len - prefix - suffix);
  for (guint i = prefix; i < new_len - suffix; i++)
    g_ptr_array_insert (items, start + i, g_object_ref (g_ptr_array_index (replacement, i)));
  g_list_model_items_changed (model, start + prefix, old_len - prefix - suffix, new_len - prefix - suffix);
}
