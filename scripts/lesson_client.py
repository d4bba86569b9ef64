#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# The lesson's client.py, unchanged but for two things: the port can be
# given as the first argument (default 9999, the lesson's), and a timeout
# keeps it from hanging for ever if no server answers.
#   python3 scripts/lesson_client.py          # against 127.0.0.1:9999
#   python3 scripts/lesson_client.py 40123    # against another port
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(60)
# 建立连接:
s.connect(('127.0.0.1', port))
# 接收欢迎消息:
print(s.recv(1024).decode('utf-8'))

for data in [b'message1', b'message2', b'message3', b'message4', b'message5']:
    # 发送数据:
    s.send(data)
    print(s.recv(1024).decode('utf-8'))
s.send(b'exit')
s.close()
