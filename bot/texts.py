"""What the bot says, in English and Arabic (customers write in either)."""

from __future__ import annotations

HELP = (
    "How can we help?\n"
    "1. Menu - reply MENU\n"
    "2. Branches - reply BRANCHES\n"
    "Reply STOP to stop messages.\n"
    "كيف نقدر نخدمك؟\n"
    "1. القائمة - أرسل «القائمة»\n"
    "2. الفروع - أرسل «الفروع»\n"
    "أرسل «إيقاف» لإيقاف الرسائل."
)

WELCOME = (
    "Welcome to {restaurant}{customer}! Reply MENU to see our menu or BRANCHES for our "
    "branches.\n"
    "أهلاً بك في {restaurant}! أرسل «القائمة» لعرض القائمة أو «الفروع» لعرض الفروع."
)

OPTED_OUT = (
    "You will no longer receive messages from {restaurant}. Reply START to subscribe again.\n"
    "لن تصلك رسائل من {restaurant} بعد الآن. أرسل «ابدأ» للاشتراك مجدداً."
)

OPTED_IN = (
    "Welcome back! You will receive messages from {restaurant} again. Reply MENU to start.\n"
    "أهلاً بعودتك! ستصلك رسائل {restaurant} مجدداً. أرسل «القائمة» للبدء."
)

MENU_HEADER = "Our menu / قائمتنا:"
MENU_FOOTER = "Reply with a number to see its items. / أرسل رقم القسم لعرض أصنافه."
EMPTY_MENU = "Our menu is not available right now. / القائمة غير متاحة حالياً."
EMPTY_CATEGORY = "No items in this category right now. / لا توجد أصناف في هذا القسم حالياً."
PRICE_ON_REQUEST = "price on request / السعر عند الطلب"
BRANCHES_HEADER = "Our branches / فروعنا:"
BRANCHES_FOOTER = "Reply with a number to choose a branch. / أرسل رقم الفرع لاختياره."
NO_BRANCHES = "No branches are listed right now. / لا توجد فروع حالياً."
BRANCH_CHOSEN = "This is now your branch. / تم اختيار هذا الفرع."
CATALOG_UNAVAILABLE = (
    "Sorry, our menu is not available right now. Please try again in a few minutes.\n"
    "عذراً، القائمة غير متاحة حالياً. حاول مرة أخرى بعد دقائق."
)
UNKNOWN_OPTION = (
    "Unknown option, please pick a number from the list. / خيار غير معروف، اختر رقماً من القائمة."
)
