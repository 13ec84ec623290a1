"""Words for the demo city (示例市): place names, people's names, case descriptions.

Everything here is fictional.  Places combine a first and a second character; people combine a
surname and one or two given-name characters.
"""

PLACE_FIRST = "青石柳桥明新安和平兴华福瑞长永丰龙凤金银双清白云松竹梅桂东西南北上下大小高荷莲杏桃"
PLACE_SECOND = "湾桥岭塘溪坪山田埔岗洲园坑头江湖城沙涌浦营圩屯寨堡坝岩"
DISTRICT_NAMES = ["城中区", "东湖区", "西岭区", "南江区", "北山区", "高新区"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红文辉鹏飞春燕海波晓雪"
ROADS = ["人民路", "建设路", "解放路", "中山路", "文化路", "和平路", "新华路", "滨江路", "工业大道"]

#: Hotspot types: where trouble keeps coming back, and what kind of trouble.
HOTSPOT_CATEGORIES: dict[str, dict[str, float]] = {
    "market": {  # 集贸市场
        "consumer": 0.3,
        "public_order": 0.2,
        "fire": 0.15,
        "food_safety": 0.15,
        "small_venues": 0.1,
        "neighbour": 0.1,
    },
    "construction": {  # 建筑工地
        "labour_wage": 0.4,
        "building_safety": 0.2,
        "traffic_safety": 0.15,
        "fire": 0.1,
        "neighbour": 0.15,
    },
    "old_residential": {  # 老旧小区
        "neighbour": 0.25,
        "property_mgmt": 0.2,
        "gas": 0.15,
        "building_safety": 0.1,
        "fire": 0.1,
        "rental_housing": 0.1,
        "marriage_family": 0.1,
    },
    "urban_village": {  # 城中村
        "rental_housing": 0.3,
        "fire": 0.2,
        "public_order": 0.2,
        "small_venues": 0.15,
        "neighbour": 0.15,
    },
}
BACKGROUND_URBAN: dict[str, float] = {
    "neighbour": 0.14,
    "property_mgmt": 0.1,
    "marriage_family": 0.08,
    "consumer": 0.08,
    "labour_wage": 0.06,
    "traffic_accident": 0.07,
    "contract_debt": 0.05,
    "medical": 0.02,
    "dispute_other": 0.03,
    "fire": 0.08,
    "public_order": 0.07,
    "gas": 0.05,
    "traffic_safety": 0.05,
    "rental_housing": 0.05,
    "small_venues": 0.04,
    "food_safety": 0.02,
    "hazard_other": 0.01,
}
BACKGROUND_RURAL: dict[str, float] = {
    "neighbour": 0.12,
    "marriage_family": 0.1,
    "housing_homestead": 0.12,
    "land_forest": 0.1,
    "land_requisition": 0.05,
    "labour_wage": 0.04,
    "traffic_accident": 0.06,
    "contract_debt": 0.03,
    "dispute_other": 0.03,
    "fire": 0.08,
    "building_safety": 0.06,
    "flood": 0.07,
    "traffic_safety": 0.06,
    "public_order": 0.04,
    "gas": 0.02,
    "hazard_other": 0.02,
}

#: Two descriptions per category; ``{place}`` is the village or community name.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "marriage_family": (
        "{place}一对夫妻因家庭琐事争吵，邻居报告",
        "{place}兄弟因赡养老人问题产生矛盾",
    ),
    "neighbour": ("{place}楼上楼下因噪音扰民发生争执", "{place}邻里因楼道堆放杂物产生矛盾"),
    "housing_homestead": (
        "{place}两户村民因宅基地界线发生争议",
        "{place}村民建房占用公共通道引发纠纷",
    ),
    "land_forest": ("{place}两组村民因山林权属发生争议", "{place}承包地边界不清引发纠纷"),
    "labour_wage": ("{place}十余名工人反映被拖欠工资", "{place}务工人员与包工头因工钱结算发生争执"),
    "property_mgmt": (
        "{place}业主与物业因停车收费发生矛盾",
        "{place}业主反映电梯长期故障物业不处理",
    ),
    "consumer": ("{place}顾客与商户因缺斤短两发生争执", "{place}消费者反映预付卡商家关门跑路"),
    "medical": ("{place}患者家属对诊疗结果不满与卫生院发生争执", "{place}村卫生室用药纠纷"),
    "traffic_accident": (
        "{place}路口两车剐蹭双方就赔偿未达成一致",
        "{place}电动车与行人相撞赔偿纠纷",
    ),
    "land_requisition": ("{place}村民对征地补偿标准有异议", "{place}拆迁户对安置方案不满"),
    "contract_debt": ("{place}个体户之间货款拖欠纠纷", "{place}村民之间借贷纠纷"),
    "dispute_other": ("{place}居民反映其他矛盾纠纷", "{place}群众来访反映纠纷线索"),
    "fire": ("{place}沿街商铺消防通道被杂物堵塞", "{place}电动车在楼道内充电存在火灾隐患"),
    "public_order": ("{place}夜间有人聚集滋事", "{place}发现可疑人员在小区内徘徊"),
    "building_safety": ("{place}一处老旧房屋外墙出现裂缝", "{place}违规加建楼层存在安全隐患"),
    "gas": ("{place}餐饮店燃气管道老化", "{place}居民楼内发现违规存放液化气瓶"),
    "traffic_safety": ("{place}路口信号灯故障", "{place}学校门口缺少减速设施"),
    "flood": ("{place}排洪渠堵塞", "{place}低洼地段雨后积水严重"),
    "rental_housing": ("{place}出租屋群租且未登记", "{place}出租屋私拉电线"),
    "small_venues": ("{place}小作坊无证经营且消防设施缺失", "{place}小餐馆后厨存在安全隐患"),
    "food_safety": ("{place}流动摊贩售卖过期食品", "{place}小食堂卫生条件差"),
    "hazard_other": ("{place}发现其他安全隐患", "{place}广告牌松动存在坠落风险"),
}
