"""Reference tables for the sample generator: names, places, companies.

Chinese family and given names carry their pinyin (the generator may not
import pypinyin), with a rough popularity weight; English names carry their
nicknames. Everything here is plain data.

May import: nothing from crmcore; the standard library only.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CN_CITIES",
    "CN_COMPANY_BRANDS",
    "CN_COMPANY_INDUSTRIES",
    "CN_COMPANY_SUFFIXES",
    "CN_FAMILY_NAMES",
    "CN_GIVEN_CHARS",
    "EN_CITIES",
    "EN_COMPANY_SUFFIXES",
    "EN_COMPANY_WORDS",
    "EN_FAMILY_NAMES",
    "EN_GIVEN_NAMES",
]


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    items = text.split()
    return tuple((items[k], items[k + 1]) for k in range(0, len(items), 2))


# (characters, pinyin, weight): weights follow the rough frequency of China's surnames.
CN_FAMILY_NAMES: Final = tuple(
    (chars, pinyin, weight)
    for (chars, pinyin), weight in zip(
        _pairs(
            "王 wang 李 li 张 zhang 刘 liu 陈 chen 杨 yang 黄 huang 赵 zhao 吴 wu 周 zhou "
            "徐 xu 孙 sun 马 ma 朱 zhu 胡 hu 郭 guo 何 he 高 gao 林 lin 罗 luo "
            "郑 zheng 梁 liang 谢 xie 宋 song 唐 tang 许 xu 韩 han 冯 feng 邓 deng 曹 cao "
            "彭 peng 曾 zeng 肖 xiao 田 tian 董 dong 袁 yuan 潘 pan 于 yu 蒋 jiang 蔡 cai "
            "余 yu 杜 du 叶 ye 程 cheng 苏 su 魏 wei 吕 lu 丁 ding 任 ren 沈 shen "
            "姚 yao 卢 lu 姜 jiang 崔 cui 钟 zhong 谭 tan 陆 lu 汪 wang 范 fan 金 jin "
            "石 shi 廖 liao 贾 jia 夏 xia 韦 wei 付 fu 方 fang 白 bai 邹 zou 孟 meng "
            "熊 xiong 秦 qin 邱 qiu 江 jiang 尹 yin 薛 xue 闫 yan 段 duan 雷 lei 侯 hou "
            "龙 long 史 shi 陶 tao 黎 li 贺 he 顾 gu 毛 mao 郝 hao 龚 gong 邵 shao "
            "万 wan 钱 qian 严 yan 覃 qin 武 wu 戴 dai 莫 mo 孔 kong 向 xiang 汤 tang "
            "欧阳 ouyang 司马 sima 诸葛 zhuge 上官 shangguan"
        ),
        (
            [72, 70, 66, 54, 45, 30, 23, 20, 20, 19, 17, 15, 14, 13, 13, 12, 11, 11, 11, 10]
            + [9] * 10
            + [6] * 20
            + [4] * 30
            + [2] * 20
            + [1] * 4
        ),
        strict=True,
    )
)

# (character, pinyin, weight) for given names; a given name is one or two of these.
CN_GIVEN_CHARS: Final = tuple(
    (chars, pinyin, weight)
    for (chars, pinyin), weight in zip(
        _pairs(
            "伟 wei 芳 fang 娜 na 敏 min 静 jing 丽 li 强 qiang 磊 lei 军 jun 洋 yang "
            "勇 yong 艳 yan 杰 jie 娟 juan 涛 tao 明 ming 超 chao 秀 xiu 霞 xia 平 ping "
            "刚 gang 桂 gui 英 ying 华 hua 玉 yu 兰 lan 萍 ping 红 hong 鹏 peng 辉 hui "
            "建 jian 国 guo 文 wen 斌 bin 宇 yu 浩 hao 凯 kai 俊 jun 欣 xin 怡 yi "
            "佳 jia 婷 ting 雪 xue 琳 lin 晨 chen 轩 xuan 子 zi 涵 han 梓 zi 睿 rui "
            "博 bo 思 si 雨 yu 嘉 jia 诗 shi 琪 qi 瑶 yao 晓 xiao 小 xiao 海 hai "
            "波 bo 峰 feng 志 zhi 春 chun 金 jin 云 yun 龙 long 飞 fei 鑫 xin 天 tian "
            "成 cheng 亮 liang 东 dong 晶 jing 慧 hui 颖 ying 倩 qian 蕾 lei 婉 wan 然 ran "
            "昊 hao 宏 hong 毅 yi 帆 fan 阳 yang 立 li 新 xin 永 yong 德 de 振 zhen "
            "家 jia 荣 rong 泽 ze 宁 ning 安 an"
        ),
        ([30, 25, 24, 22, 20, 20, 18, 18, 17, 16] + [9] * 30 + [5] * 35 + [3] * 20),
        strict=True,
    )
)

# (chinese, english, postcode prefix, weight)
CN_CITIES: Final = (
    ("北京", "Beijing", "100", 10), ("上海", "Shanghai", "200", 10),
    ("广州", "Guangzhou", "510", 7), ("深圳", "Shenzhen", "518", 7),
    ("杭州", "Hangzhou", "310", 5), ("成都", "Chengdu", "610", 5),
    ("南京", "Nanjing", "210", 4), ("武汉", "Wuhan", "430", 4),
    ("西安", "Xi'an", "710", 3), ("苏州", "Suzhou", "215", 3),
    ("天津", "Tianjin", "300", 3), ("重庆", "Chongqing", "400", 3),
    ("长沙", "Changsha", "410", 2), ("郑州", "Zhengzhou", "450", 2),
    ("青岛", "Qingdao", "266", 2), ("厦门", "Xiamen", "361", 2),
    ("宁波", "Ningbo", "315", 2), ("合肥", "Hefei", "230", 2),
    ("福州", "Fuzhou", "350", 1), ("昆明", "Kunming", "650", 1),
)  # fmt: skip

CN_COMPANY_BRANDS: Final = _pairs(
    "腾达 tengda 华信 huaxin 中科 zhongke 金鼎 jinding 恒通 hengtong 鑫源 xinyuan "
    "宏远 hongyuan 天成 tiancheng 博雅 boya 瑞丰 ruifeng 联创 lianchuang 东方 dongfang "
    "新星 xinxing 盛世 shengshi 华美 huamei 永和 yonghe 远景 yuanjing 智汇 zhihui "
    "云帆 yunfan 海纳 haina 正泰 zhengtai 锦程 jincheng 汇通 huitong 凯达 kaida "
    "长城 changcheng 星辰 xingchen 润泽 runze 银河 yinhe 华锐 huarui 明德 mingde"
)
CN_COMPANY_INDUSTRIES: Final = (
    "科技", "贸易", "信息技术", "网络", "电子", "实业", "软件", "咨询", "物流", "医药",
)  # fmt: skip
# Ways the same legal form is written (or left out).
CN_COMPANY_SUFFIXES: Final = ("有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "")

# (given name, nicknames, weight)
EN_GIVEN_NAMES: Final = (
    ("James", ("Jim", "Jimmy"), 9), ("John", ("Johnny", "Jack"), 9),
    ("Robert", ("Bob", "Rob", "Bobby"), 8), ("Michael", ("Mike", "Mick"), 8),
    ("William", ("Bill", "Will", "Billy"), 7), ("David", ("Dave",), 7),
    ("Richard", ("Rick", "Dick", "Rich"), 5), ("Joseph", ("Joe", "Joey"), 5),
    ("Thomas", ("Tom", "Tommy"), 5), ("Charles", ("Charlie", "Chuck"), 4),
    ("Christopher", ("Chris",), 4), ("Daniel", ("Dan", "Danny"), 4),
    ("Matthew", ("Matt",), 4), ("Anthony", ("Tony",), 3), ("Steven", ("Steve",), 3),
    ("Andrew", ("Andy", "Drew"), 3), ("Edward", ("Ed", "Eddie", "Ted"), 3),
    ("Jonathan", ("Jon",), 2), ("Nicholas", ("Nick",), 2), ("Benjamin", ("Ben",), 2),
    ("Samuel", ("Sam",), 2), ("Peter", ("Pete",), 2), ("Timothy", ("Tim",), 2),
    ("Kenneth", ("Ken",), 2), ("Gregory", ("Greg",), 2), ("Ryan", (), 2),
    ("Kevin", (), 2), ("Brian", (), 2), ("George", (), 2), ("Paul", (), 2),
    ("Mary", (), 7), ("Patricia", ("Pat", "Trish"), 5), ("Jennifer", ("Jen", "Jenny"), 6),
    ("Linda", (), 4), ("Elizabeth", ("Liz", "Beth", "Betty"), 6), ("Barbara", ("Barb",), 3),
    ("Susan", ("Sue",), 4), ("Jessica", ("Jess",), 4), ("Sarah", (), 5), ("Karen", (), 3),
    ("Nancy", (), 3), ("Lisa", (), 3), ("Margaret", ("Maggie", "Peggy"), 3),
    ("Sandra", (), 2), ("Ashley", (), 3), ("Emily", (), 4), ("Donna", (), 2),
    ("Michelle", (), 3), ("Catherine", ("Kate", "Cathy"), 3), ("Rebecca", ("Becky",), 2),
    ("Laura", (), 3), ("Amy", (), 3), ("Rachel", (), 2), ("Victoria", ("Vicky",), 2),
    ("Olivia", (), 3), ("Emma", (), 3), ("Sophie", (), 2), ("Hannah", (), 2),
    ("Grace", (), 2), ("Chloe", (), 2),
)  # fmt: skip

EN_FAMILY_NAMES: Final = tuple(
    (name, weight)
    for name, weight in zip(
        (
            "Smith Johnson Williams Brown Jones Miller Davis Garcia Rodriguez Wilson "
            "Martinez Anderson Taylor Thomas Hernandez Moore Martin Jackson Thompson White "
            "Lopez Lee Gonzalez Harris Clark Lewis Robinson Walker Perez Hall Young Allen "
            "Sanchez Wright King Scott Green Baker Adams Nelson Hill Ramirez Campbell "
            "Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards "
            "Stewart Flores Morris Nguyen Murphy Rivera Cook Rogers Morgan Peterson Cooper "
            "Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz Richardson Wood Watson Brooks "
            "Bennett Gray James Reyes Cruz Hughes Price Myers Long Foster Sanders Ross "
            "Morales Powell Sullivan Russell Ortiz Jenkins Gutierrez Perry Butler Barnes "
            "Fisher Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Kim "
            "Gonzales Alexander Ramos Wallace Griffin West Cole Hayes Chavez Gibson Bryant "
            "Ellis Stevens Murray Ford Marshall Owens McDonald Harrison Ruiz Kennedy Wells "
            "Alvarez Woods Mendoza Castillo Olson Webb Washington Tucker Freeman Burns "
            "Henry Vasquez Snyder Simpson Crawford Jimenez Porter Mason Shaw Gordon Wagner "
            "Hunter Romero Hicks Dixon Hunt Palmer Robertson Black Holmes Stone Meyer Boyd "
            "Mills Warren Fox Rose Rice Moreno Schmidt Patel Ferguson Nichols Herrera "
            "Medina Ryan Fernandez Weaver Daniels Stephens Gardner Payne Kelley Dunn Pierce "
            "Arnold Tran Spencer Peters Hawkins Grant Hansen Castro Hoffman Hart Elliott "
            "Cunningham Knight Bradley O'Brien O'Connor McCarthy Fitzgerald"
        ).split(),
        [10] * 10 + [6] * 20 + [3] * 70 + [2] * 200,
        strict=False,
    )
)

# (city, country, postcode maker pattern, weight): "#" digit, "A" letter.
EN_CITIES: Final = (
    ("New York", "US", "100##", 8), ("Los Angeles", "US", "900##", 6),
    ("Chicago", "US", "606##", 5), ("Houston", "US", "770##", 4),
    ("San Francisco", "US", "941##", 4), ("Seattle", "US", "981##", 3),
    ("Boston", "US", "021##", 3), ("Austin", "US", "787##", 2),
    ("Denver", "US", "802##", 2), ("Atlanta", "US", "303##", 2),
    ("London", "GB", "SW1A #AA", 6), ("Manchester", "GB", "M# #AB", 3),
    ("Birmingham", "GB", "B# #CD", 2), ("Edinburgh", "GB", "EH# #EF", 2),
    ("Bristol", "GB", "BS# #GH", 1),
)  # fmt: skip

EN_COMPANY_WORDS: Final = tuple(
    (
        "Acme Globex Initech Umbrella Stark Wayne Wonka Hooli Vandelay Cyberdyne Soylent "
        "Tyrell Aperture Massive Dynamic Oscorp Gringotts Nakatomi Monarch Virtucon "
        "Pied Piper Blue Sun Black Mesa Sterling Cooper Dunder Mifflin Prestige "
        "Northwind Contoso Fabrikam Tailspin Litware Adventure Works Proseware Fourth "
        "Coffee Wide World Importers Alpine Ski Blue Yonder Bellows Lucerne Margie "
        "Trey Research Woodgrove Southridge Humongous Wingtip"
    ).split()
)
# Ways the same legal form is written (or left out).
EN_COMPANY_SUFFIXES: Final = (
    ("Inc", "Inc.", ", Inc.", "Incorporated", ""),
    ("Ltd", "Ltd.", "Limited", ""),
    ("LLC", "L.L.C.", ""),
    ("Corp", "Corp.", "Corporation", ""),
    ("Co.", "Company", ""),
    ("GmbH", ""),
)
