#!/usr/bin/env bash
# Like the official image's bin/kafka-topics.sh: the TopicCommand tool on the broker's jars.
exec java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    -cp "/opt/kafka/libs/*" org.apache.kafka.tools.TopicCommand "$@"
